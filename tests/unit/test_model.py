"""model: what the value types promise beyond their fields."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

from gitops_push.model import ObjectRef

REF = ObjectRef("apps", "Deployment", "shop", "web")


def test_an_object_ref_is_a_value_its_kept_hash_changes_nothing() -> None:
    same = ObjectRef("apps", "Deployment", "shop", "web")
    assert same == REF and hash(same) == hash(REF) and {REF: 1}[same] == 1
    assert hash(ObjectRef("", "Namespace", None, "shop")) == hash(ObjectRef("", "Namespace", None, "shop"))
    renamed = dataclasses.replace(REF, name="api")
    assert renamed != REF and hash(dataclasses.replace(renamed, name="web")) == hash(REF)
    assert [f.name for f in dataclasses.fields(REF)] == ["group", "kind", "namespace", "name"]
    assert dataclasses.asdict(REF) == {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
    }
    assert repr(REF) == "ObjectRef(group='apps', kind='Deployment', namespace='shop', name='web')"
    assert copy.deepcopy(REF) == REF and hash(copy.copy(REF)) == hash(REF)


def test_an_object_ref_pickled_in_one_process_is_found_by_its_hash_in_another() -> None:
    """A string's hash differs from process to process: the kept hash must not travel."""
    script = (
        "import pickle, sys\n"
        "from gitops_push.model import ObjectRef\n"
        "ref = pickle.loads(sys.stdin.buffer.read())\n"
        "print({ObjectRef('apps', 'Deployment', 'shop', 'web'): 'found'}.get(ref, 'lost'))\n"
    )
    for seed in ("1", "2"):
        found = subprocess.run(
            [sys.executable, "-c", script],
            input=pickle.dumps(REF),
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert found.stdout.decode().strip() == "found"
