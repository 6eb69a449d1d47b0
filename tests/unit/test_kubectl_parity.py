"""gitops-push reads every manifest as kubectl does: the same JSON for the corpus, or both refusing.

kubectl's reading comes from tools/go/yamloracle (apimachinery's decoder and sigs.k8s.io/yaml at the
versions k8s.io/kubernetes v1.36.3 pins). A case where kubectl reads a file that gitops-push refuses
must be a deliberate difference (tests/unit/yamlcorpus.py DIFFERENCES, docs/kubectl-parity.md), and
gitops-push's refusal must say which; a case marked so that no longer differs fails too.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_push.stages import loading
from tests import fuzzing, kubectl
from tests.conftest import FIXTURES
from tests.unit import yamlcorpus

CORPUS = yamlcorpus.corpus()


@pytest.fixture(scope="module")
def oracle() -> Path:
    return kubectl.build_oracle()


@pytest.fixture(scope="module")
def kubectl_readings(oracle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, kubectl.Reading]:
    folder = tmp_path_factory.mktemp("corpus")
    readings = kubectl.kubectl_read(oracle, [case.text for case in CORPUS], folder)
    return {case.name: reading for case, reading in zip(CORPUS, readings, strict=True)}


def test_the_corpus_is_large_and_covers_every_category() -> None:
    assert len(CORPUS) >= 500
    categories = {case.name.split(" ")[0] for case in CORPUS}
    assert categories >= {
        "timestamp", "base60", "int", "int-range", "float", "inf-nan", "bool", "null", "special", "tag",
        "quoted", "stream", "block", "flow", "key", "alias", "json", "long", "configmap",
    }  # fmt: skip


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_the_same_json_as_kubectl_or_both_refuse(
    case: yamlcorpus.Case, kubectl_readings: dict[str, kubectl.Reading]
) -> None:
    theirs = kubectl_readings[case.name]
    ours = kubectl.gitops_read(case.text)
    if case.difference is not None:
        assert theirs.error is None, f"kubectl refuses it too ({theirs.error}): not a difference"
        assert ours.error is not None, f"gitops-push reads it: {ours.documents}"
        assert yamlcorpus.DIFFERENCES[case.difference] in ours.error
        return
    if theirs.error is not None:
        assert ours.error is not None, f"kubectl refuses ({theirs.error}), gitops-push reads {ours.documents}"
        return
    assert ours.error is None, f"kubectl reads {theirs.documents}, gitops-push refuses: {ours.error}"
    assert [kubectl.typed(d) for d in ours.documents] == [kubectl.typed(d) for d in theirs.documents]


# --- generated documents ---------------------------------------------------------------------------

SCALARS = st.sampled_from(
    sorted(
        {
            *yamlcorpus.TIMESTAMPS,
            *yamlcorpus.BASE_60,
            *yamlcorpus.INTEGERS,
            *yamlcorpus.FLOATS,
            *yamlcorpus.SPECIAL_FLOATS,
            *yamlcorpus.BOOLS,
            *yamlcorpus.NULLS,
            *yamlcorpus.SPECIALS,
            "x",
            "web",
            "a b",
            "80",
            "0.5",
            "'q'",
            '"dq"',
            "-",
            "http://a.test/b",
        }
        - {"1e400", "1.7976931348623159e308", "yes!", "x # comment", "?x", "a:"}
    )
)
# One spelling per JSON key: two spellings of one key (true, y) are a documented refusal.
KEYS = st.sampled_from(["a", "b", "name", "1", "2.5", "y", "off", "key with space", "0x1F", "~x"])


def _block(value: object, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "".join(f"\n{pad}{key}: {_block(item, indent + 2)}" for key, item in value.items())
    if isinstance(value, list):
        if not value:
            return "[]"
        return "".join(f"\n{pad}- {_block(item, indent + 2).lstrip()}" for item in value)
    return str(value)


def _flow(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value)


TREES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
DOCUMENTS = st.builds(
    lambda tree, key, flow: f"{key}: {_flow(tree) if flow else _block(tree, 2)}\n",
    TREES,
    KEYS,
    st.booleans(),
)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCUMENTS, min_size=1, max_size=3), st.sampled_from(["\n", "\r\n"]))
def test_generated_documents_read_as_kubectl_reads_them(
    oracle: Path, tmp_path_factory: pytest.TempPathFactory, documents: list[str], newline: str
) -> None:
    text = "---\n".join(documents).replace("\n", newline)
    theirs = kubectl.kubectl_read(oracle, [text], tmp_path_factory.mktemp("generated"))[0]
    ours = kubectl.gitops_read(text)
    if theirs.error is not None:
        assert ours.error is not None, f"kubectl refuses ({theirs.error}) {text!r}"
    elif ours.error is not None:
        # Only a deliberate difference may refuse what kubectl reads (a key twice, `1:` in [ ]...).
        assert any(words in ours.error for words in yamlcorpus.DIFFERENCES.values()), (text, ours.error)
    else:
        assert [kubectl.typed(d) for d in ours.documents] == [kubectl.typed(d) for d in theirs.documents]


# --- List kinds: the objects kubectl's builder would apply ----------------------------------------

LISTS = {
    "kind List": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    "- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {replicas: 1}}\n",
    "ConfigMapList items inherit": "apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a}\n"
    "  data: {k: v}\n- {metadata: {name: b}}\n",
    "custom list": "apiVersion: example.com/v1\nkind: WidgetList\nitems:\n- metadata: {name: w}\n  spec: {size: 2}\n",
    "items with kinds of their own": "apiVersion: v1\nkind: ConfigMapList\nitems:\n"
    "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
    "items null": "apiVersion: v1\nkind: ConfigMapList\nitems: null\n",
    "items empty": "apiVersion: v1\nkind: List\nitems: []\n",
    "two lists in one file": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    "---\napiVersion: v1\nkind: SecretList\nitems:\n- {metadata: {name: s}}\n",
    "a list in a list": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n",
    "item with a kind but no apiVersion": "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {kind: Secret, metadata: {name: s}}\n",
    "list without apiVersion": "kind: ConfigMapList\nitems:\n- metadata: {name: a}\n",
    "items not a list": "apiVersion: v1\nkind: ConfigMapList\nitems: x\n",
    "item not a map": "apiVersion: v1\nkind: ConfigMapList\nitems: [1]\n",
    "kind List item without kind": "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n",
}
ITEMS_FIELD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"


@pytest.fixture(scope="module")
def kubectl_lists(oracle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, kubectl.Reading]:
    texts = [*LISTS.values(), ITEMS_FIELD]
    readings = kubectl.kubectl_read(oracle, texts, tmp_path_factory.mktemp("lists"))
    return dict(zip([*LISTS, "items field"], readings, strict=True))


def loaded(text: str) -> loading.Side:
    side = loading.Side()
    loading.parse_file("k8s/list.yaml", text.encode(), side)
    return side


@pytest.mark.parametrize("name", list(LISTS))
def test_lists_expand_into_the_objects_kubectl_applies(
    name: str, kubectl_lists: dict[str, kubectl.Reading]
) -> None:
    theirs, ours = kubectl_lists[name], loaded(LISTS[name])
    if theirs.error or theirs.objects_errors:
        assert ours.findings, (
            f"kubectl refuses ({theirs.error or theirs.objects_errors}), gitops-push reads it"
        )
        return
    assert ours.findings == []
    assert [kubectl.typed(dict(d.body)) for d in ours.documents] == [kubectl.typed(o) for o in theirs.objects]


def test_an_object_with_items_is_a_deliberate_difference(kubectl_lists: dict[str, kubectl.Reading]) -> None:
    theirs, ours = kubectl_lists["items field"], loaded(ITEMS_FIELD)
    assert [o["kind"] for o in theirs.objects] == ["Secret"]  # kubectl drops the ConfigMap itself
    assert [f.message for f in ours.findings if "drop the object itself" in f.message]
    assert ours.documents == []


# --- mutated corpus: bytes, structure and values changed at random ------------------------------------

MUTANTS = 1000


def test_mutated_documents_read_as_kubectl_reads_them(oracle: Path, tmp_path: Path) -> None:
    """The corpus and a real manifest, mutated (tests/fuzzing.py) and read by both: the same JSON, both
    refusing, or a documented difference. Seeded: a failure is found again by its text."""
    rng = random.Random(13)
    seeds = [case.text.encode() for case in CORPUS if len(case.text) < 3000]
    seeds.append((FIXTURES / "microservices-demo" / "frontend.yaml").read_bytes())
    texts: list[str] = []
    while len(texts) < MUTANTS:
        data = fuzzing.mutate(rng.choice(seeds), rng)
        if b"\0" not in data:  # a NUL makes a file binary: loading refuses it before any YAML
            with contextlib.suppress(UnicodeDecodeError):  # and so is a file that is not UTF-8
                texts.append(data.decode("utf-8"))
    mismatches = []
    for text, theirs in zip(texts, kubectl.kubectl_read(oracle, texts, tmp_path), strict=True):
        ours = kubectl.gitops_read(text)
        if theirs.error is not None:
            same = ours.error is not None
        elif ours.error is not None:
            same = any(words in ours.error for words in yamlcorpus.DIFFERENCES.values())
        else:
            same = [kubectl.typed(d) for d in ours.documents] == [kubectl.typed(d) for d in theirs.documents]
        if not same:
            mismatches.append((text, theirs.error or theirs.documents, ours.error or ours.documents))
    assert mismatches == []
