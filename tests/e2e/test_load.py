"""Load: a deploy of 2,000 objects, then 50 consecutive deploys of random changes. Every run must
converge (the live objects are what Git has at the tag) and the tags must form an unbroken history."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from gitops_push.kube import Cluster
from gitops_push.stages import ownership
from tests.e2e.workspace import CONFIG_MAPS, NAMESPACES, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e

OBJECTS = 2000
FILES = 200
NAMESPACE_COUNT = 10
ROUNDS = 50


class Model:
    """What Git holds: namespace/name -> value, laid out in files."""

    def __init__(self, prefix: str, rng: random.Random) -> None:
        self.rng = rng
        self.namespaces = [f"{prefix}-{n}" for n in range(NAMESPACE_COUNT)]
        self.objects: dict[tuple[str, str], str] = {}
        self.files: dict[str, list[tuple[str, str]]] = {f"k8s/part-{n:03}.yaml": [] for n in range(FILES)}
        self.serial = 0
        for _ in range(OBJECTS):
            self.add()

    def add(self) -> None:
        key = (self.rng.choice(self.namespaces), f"cm-{self.serial}")
        self.serial += 1
        self.objects[key] = str(self.rng.random())
        self.files[self.rng.choice(list(self.files))].append(key)

    def change(self) -> None:
        key = self.rng.choice(list(self.objects))
        self.objects[key] = str(self.rng.random())

    def remove(self) -> None:
        key = self.rng.choice(list(self.objects))
        del self.objects[key]
        for keys in self.files.values():
            if key in keys:
                keys.remove(key)

    def move(self) -> None:
        """An object moves to another file: nothing to apply."""
        source = self.rng.choice([path for path, keys in self.files.items() if keys])
        key = self.files[source].pop()
        self.files[self.rng.choice(list(self.files))].append(key)

    def write(self, workspace: Workspace) -> None:
        workspace.write("k8s/namespaces.yaml", "---\n".join(namespace_manifest(ns) for ns in self.namespaces))
        for path, keys in self.files.items():
            documents = [config_map(ns, name, {"value": self.objects[(ns, name)]}) for ns, name in keys]
            if documents:
                workspace.write(path, "---\n".join(documents))
            else:
                (workspace.root / path).unlink(missing_ok=True)


def live_state(kube: Cluster, model: Model, env: str) -> dict[tuple[str, str], str]:
    selector = f"{ownership.PART_OF_LABEL}={ownership.applyset_id(env)}"
    state = {}
    for ns in model.namespaces:
        for item in kube.list(CONFIG_MAPS, label_selector=selector, namespace=ns):
            state[(ns, item["metadata"]["name"])] = (item.get("data") or {}).get("value", "")
    return state


@pytest.fixture
def cleanup(kube: Cluster) -> Iterator[list[str]]:
    namespaces: list[str] = []
    yield namespaces
    for ns in namespaces:
        kube.delete(NAMESPACES, None, ns)


def test_2000_objects_then_50_random_deploys_converge_with_an_unbroken_history(
    workspace: Workspace, kube: Cluster, cleanup: list[str]
) -> None:
    rng = random.Random(20261129)
    model = Model(unique("load"), rng)
    cleanup.extend(model.namespaces)
    model.write(workspace)
    workspace.commit("2,000 objects")

    started = time.monotonic()
    first = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--max-prune", "1000")
    first_seconds = time.monotonic() - started
    assert first.exit_code == 0, first.stderr
    assert first.json["counts"]["created"] == OBJECTS + NAMESPACE_COUNT
    assert live_state(kube, model, workspace.env) == model.objects

    durations = []
    for round_number in range(ROUNDS):
        for _ in range(rng.randint(1, 8)):
            rng.choice([model.add, model.change, model.change, model.remove, model.move])()
        model.write(workspace)
        workspace.commit(f"round {round_number}")
        started = time.monotonic()
        result = workspace.cli("deploy", "--path", "k8s", "-o", "json", "--max-prune", "1000")
        durations.append(time.monotonic() - started)
        assert result.exit_code == 0, (round_number, result.stderr)
        assert live_state(kube, model, workspace.env) == model.objects, round_number

    tags = list(reversed(workspace.tags()))
    assert len(tags) == ROUNDS + 1
    previous = None
    for tag in tags:
        metadata = workspace.tag_metadata(tag)
        assert metadata["from"] == previous
        previous = metadata["to"]
    print(
        f"\nload: first deploy of {OBJECTS} objects {first_seconds:.1f} s; "
        f"{ROUNDS} random deploys: median {sorted(durations)[len(durations) // 2]:.2f} s, max {max(durations):.2f} s"
    )
