"""A corpus of bad repositories: each one gets a clear error naming file, line and field, a documented
exit code, and leaves the cluster and the tags untouched (a good object in the same commit is not
applied)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitops_push.kube import Cluster
from tests.e2e.workspace import CONFIG_MAPS, Workspace, config_map, namespace_manifest, unique

pytestmark = pytest.mark.e2e

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  key: value\n"
BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
)


@dataclass(frozen=True)
class Case:
    """Files to add (text, or bytes for binary input), and what the error must say."""

    files: dict[str, str | bytes]
    file: str
    line: int | None
    words: tuple[str, ...]
    field: str | None = None
    exit_code: int = 3


def cases(ns: str) -> dict[str, Case]:
    cm = CM.format(name="bad", ns=ns)
    return {
        "malformed YAML": Case(
            {"k8s/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"},
            "k8s/bad.yaml",
            4,
            ("invalid YAML",),
        ),
        "tabs": Case(
            {"k8s/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n"},
            "k8s/bad.yaml",
            4,
            ("tab",),
        ),
        "duplicate keys": Case(
            {"k8s/bad.yaml": cm.replace("  key: value\n", "  key: value\n  key: again\n")},
            "k8s/bad.yaml",
            8,
            ("duplicate key 'key'",),
        ),
        "alias bomb": Case({"k8s/bad.yaml": BOMB}, "k8s/bad.yaml", 1, ("excessive aliasing",)),
        "deep nesting": Case(
            {"k8s/bad.yaml": cm + "  deep: " + "[" * 3000 + "]" * 3000 + "\n"},
            "k8s/bad.yaml",
            None,
            ("nest",),
        ),
        "huge file": Case(
            {"k8s/bad.yaml": cm + "# " + "x" * (5 * 1024 * 1024) + "\n"},
            "k8s/bad.yaml",
            1,
            ("over the limit",),
        ),
        "binary": Case({"k8s/bad.yaml": b"\x00\x01\x02binary"}, "k8s/bad.yaml", 1, ("binary",)),
        "not UTF-8": Case({"k8s/bad.yaml": cm.encode() + b"# caf\xe9\n"}, "k8s/bad.yaml", 8, ("not UTF-8",)),
        "empty file": Case({"k8s/bad.yaml": ""}, "k8s/bad.yaml", 1, ("no Kubernetes object",)),
        "only ---": Case({"k8s/bad.yaml": "---\n"}, "k8s/bad.yaml", 1, ("no Kubernetes object",)),
        "missing kind": Case(
            {"k8s/bad.yaml": cm.replace("kind: ConfigMap\n", "")}, "k8s/bad.yaml", 1, ("kind",), "kind"
        ),
        "missing apiVersion": Case(
            {"k8s/bad.yaml": cm.replace("apiVersion: v1\n", "")},
            "k8s/bad.yaml",
            1,
            ("apiVersion",),
            "apiVersion",
        ),
        "missing name": Case(
            {"k8s/bad.yaml": cm.replace("  name: bad\n", "")}, "k8s/bad.yaml", 1, ("name",), "metadata.name"
        ),
        "unknown apiVersion": Case(
            {"k8s/bad.yaml": cm.replace("apiVersion: v1", "apiVersion: v9")},
            "k8s/bad.yaml",
            None,
            ("unknown kind",),
        ),
        "unknown kind": Case(
            {"k8s/bad.yaml": cm.replace("kind: ConfigMap", "kind: ConfigMapp")},
            "k8s/bad.yaml",
            None,
            ("unknown kind",),
        ),
        "unknown field": Case(
            {"k8s/bad.yaml": cm + "extra: field\n"}, "k8s/bad.yaml", 8, ('unknown field "extra"',), "extra"
        ),
        "uppercase name": Case(
            {"k8s/bad.yaml": cm.replace("name: bad", "name: Bad")},
            "k8s/bad.yaml",
            1,
            ("invalid name 'Bad'",),
            "metadata.name",
        ),
        "name too long": Case(
            {"k8s/bad.yaml": cm.replace("name: bad", "name: " + "n" * 254)},
            "k8s/bad.yaml",
            1,
            ("at most 253",),
            "metadata.name",
        ),
        "namespace on a cluster-scoped kind": Case(
            {
                "k8s/bad.yaml": f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {ns}-r, namespace: {ns}}}\nrules: []\n"
            },
            "k8s/bad.yaml",
            1,
            ("cluster-scoped",),
            "metadata.namespace",
        ),
        "the same object twice": Case(
            {"k8s/bad.yaml": cm, "k8s/again.yaml": cm},
            "k8s/bad.yaml",
            1,
            ("defined twice", "k8s/again.yaml:1"),
        ),
        "JSON syntax error": Case(
            {"k8s/bad.json": '{"apiVersion": "v1",\n "kind": "ConfigMap",\n "metadata": {"name": "x"}\n'},
            "k8s/bad.json",
            4,
            ("invalid JSON",),
        ),
        "JSON unknown field": Case(
            {
                "k8s/bad.json": f'{{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {{"name": "x", "namespace": "{ns}"}},\n "datta": {{}}}}\n'
            },
            "k8s/bad.json",
            3,
            ('unknown field "datta"',),
            "datta",
        ),
        "symlink outside the repository": Case(
            {"k8s/bad.yaml": "symlink:../../../../etc/passwd"}, "k8s/bad.yaml", 1, ("outside the repository",)
        ),
        "config path escaping the repository": Case(
            {"gitops-push.yaml": "environments:\n  {env}:\n    paths: [../elsewhere]\n"},
            "gitops-push.yaml",
            3,
            ("outside the repository",),
            exit_code=2,
        ),
    }


CASE_NAMES = list(cases("x"))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    name: str, workspace: Workspace, kube: Cluster
) -> None:
    ns = unique("bad")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.commit("a good start")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    tags = workspace.tags()
    case = cases(ns)[name]
    workspace.write("k8s/good.yaml", config_map(ns, "good", {"a": "b"}))
    for path, content in case.files.items():
        target = workspace.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("symlink:"):
            target.symlink_to(content.removeprefix("symlink:"))
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content.replace("{env}", workspace.env))
    workspace.commit(f"bad input: {name}")
    args = ["deploy", "-o", "json"] + ([] if path_in_config(case) else ["--path", "k8s"])

    result = workspace.cli(*args)

    assert result.exit_code == case.exit_code, result.stdout + result.stderr
    errors = result.json["errors"]
    error = next((e for e in errors if e["file"] == case.file), None)
    assert error is not None, errors
    for word in case.words:
        assert word in error["message"], error
    if case.line is not None:
        assert error["line"] == case.line, error
    if case.field is not None:
        assert error["field"] == case.field, error
    assert kube.get(CONFIG_MAPS, ns, "good") is None
    assert workspace.tags() == tags


def path_in_config(case: Case) -> bool:
    return "gitops-push.yaml" in case.files
