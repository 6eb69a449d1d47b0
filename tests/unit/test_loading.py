"""loading against real repositories: files to Manifests, notes and structural findings, both sides of a range."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gitops_push import forking
from gitops_push.gitrepo import GitFile, open_repo
from gitops_push.model import Finding, Manifest, ObjectRef, Range, Skipped, SourceLocation
from gitops_push.stages import loading, planning
from gitops_push.stages.loading import ScopeOf
from tests.unit import gitutil

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  key: {value}\n"


def unknown_scope(api_version: str, kind: str) -> bool | None:
    return None


class Repo:
    """A real Git repository in tmp_path, and loading over it."""

    def __init__(self, path: Path) -> None:
        self.path = gitutil.init(path)

    def commit(self, files: Mapping[str, gitutil.Content | gitutil.Symlink]) -> str:
        return gitutil.commit(self.path, files)

    def load(
        self,
        base: str | None,
        head: str,
        paths: tuple[str, ...] = ("k8s",),
        *,
        default_namespace: str | None = None,
        scope_of: ScopeOf = unknown_scope,
    ) -> loading.Loaded:
        with open_repo(self.path) as git:  # closed: GitPython's cat-file processes end with the test
            return loading.load(
                git, Range(base, head), paths, default_namespace=default_namespace, scope_of=scope_of
            )

    def load_files(
        self,
        files: Mapping[str, gitutil.Content | gitutil.Symlink],
        *,
        default_namespace: str | None = None,
        scope_of: ScopeOf = unknown_scope,
    ) -> loading.Loaded:
        """Commit `files` and load the whole tree at that commit (a first deploy)."""
        head = self.commit(files)
        return self.load(None, head, default_namespace=default_namespace, scope_of=scope_of)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def ref(kind: str, name: str, namespace: str | None = "default", group: str = "") -> ObjectRef:
    return ObjectRef(group, kind, namespace, name)


def sources(loaded: loading.Loaded) -> dict[ObjectRef, SourceLocation]:
    return {r: m.source for r, m in loaded.change_set.new.items()}


def findings(loaded: loading.Loaded) -> list[tuple[str, int, str, str]]:
    return [(f.source.path, f.source.line, f.field_path, f.message) for f in loaded.findings]


# --- documents and files ---------------------------------------------------------------------------

MULTI = """\
# three objects in one file
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
---
"""


def test_a_multi_document_file_gives_each_object_with_its_line_and_index(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/app.yaml": MULTI})
    assert sources(loaded) == {
        ref("ConfigMap", "settings"): SourceLocation("k8s/app.yaml", 2, 0),
        ref("Service", "web", "shop"): SourceLocation("k8s/app.yaml", 9, 1),
        ref("Deployment", "web", group="apps"): SourceLocation("k8s/app.yaml", 17, 2),
    }
    assert loaded.findings == ()
    assert loaded.change_set.skipped == ()
    assert loaded.change_set.full
    assert loaded.change_set.old == {}
    deployment = loaded.change_set.new[ref("Deployment", "web", group="apps")]
    assert deployment.api_version == "apps/v1"
    assert deployment.body == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
    }


def test_the_text_of_each_new_file_is_kept_for_later_findings(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/app.yaml": MULTI, "k8s/b.yaml": CM.format(name="b", value=1)})
    assert loaded.texts == {"k8s/app.yaml": MULTI, "k8s/b.yaml": CM.format(name="b", value=1)}


def test_only_files_under_the_paths_are_read(repo: Repo) -> None:
    head = repo.commit(
        {"k8s/a.yaml": CM.format(name="a", value=1), "elsewhere/b.yaml": CM.format(name="b", value=1)}
    )
    loaded = repo.load(None, head, ("k8s",))
    assert list(loaded.change_set.new) == [ref("ConfigMap", "a")]


LIST = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: one
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: two
      namespace: other
"""


def test_a_list_gives_each_item_with_the_line_of_the_item(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/list.yaml": LIST})
    assert sources(loaded) == {
        ref("ConfigMap", "one"): SourceLocation("k8s/list.yaml", 4, 0),
        ref("ConfigMap", "two", "other"): SourceLocation("k8s/list.yaml", 8, 0),
    }
    assert loaded.findings == ()


def test_a_list_item_with_problems_is_a_finding_with_the_item_path(repo: Repo) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: v1\n    metadata:\n      name: one\n"
        "  - just a string\n"
        "  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: fine\n"
    )
    loaded = repo.load_files({"k8s/list.yaml": text})
    assert findings(loaded) == [
        ("k8s/list.yaml", 4, "items[0].kind", "missing or not a string: every object needs a kind"),
        ("k8s/list.yaml", 7, "items[1]", "a List item must be a mapping"),
    ]
    assert list(loaded.change_set.new) == [ref("ConfigMap", "fine")]


CONFIG_MAP_LIST = """\
apiVersion: v1
kind: ConfigMapList
items:
  - metadata:
      name: one
    data: {a: "1"}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: two}
  - kind: Secret
    metadata: {name: three}
"""


def test_a_kind_list_gives_its_items_the_list_s_api_version_and_kind_as_kubectl_does(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/list.yaml": CONFIG_MAP_LIST})
    assert sources(loaded) == {
        ref("ConfigMap", "one"): SourceLocation("k8s/list.yaml", 4, 0),
        ref("ConfigMap", "two"): SourceLocation("k8s/list.yaml", 7, 0),
    }
    one = loaded.change_set.new[ref("ConfigMap", "one")]
    assert (one.api_version, one.body["kind"], one.body["data"]) == ("v1", "ConfigMap", {"a": "1"})
    # An item with a kind but no apiVersion takes neither: kubectl refuses it too.
    assert findings(loaded) == [
        (
            "k8s/list.yaml",
            10,
            "items[2].apiVersion",
            "missing or not a string: every object needs an apiVersion",
        )
    ]


def test_a_list_inside_a_list_is_a_finding(repo: Repo) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n"
    loaded = repo.load_files({"k8s/list.yaml": text})
    assert findings(loaded) == [
        ("k8s/list.yaml", 4, "items[0].items", "a List inside a List: kubectl refuses it too")
    ]


def test_an_object_with_a_top_level_items_field_is_a_finding(repo: Repo) -> None:
    text = CM.format(name="a", value=1) + "items:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n"
    loaded = repo.load_files({"k8s/cm.yaml": text})
    [finding] = loaded.findings
    assert (finding.source.line, finding.field_path) == (1, "items")
    assert "drop the object itself" in finding.message
    assert loaded.change_set.new == {}


@pytest.mark.parametrize("items", ["null", "[]"])
def test_a_list_without_items_holds_no_object_and_is_no_finding(repo: Repo, items: str) -> None:
    loaded = repo.load_files({"k8s/list.yaml": f"apiVersion: v1\nkind: ConfigMapList\nitems: {items}\n"})
    assert (loaded.change_set.new, loaded.findings) == ({}, ())


def test_a_submodule_under_a_manifest_path_is_skipped_with_a_note(repo: Repo) -> None:
    first = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1)})
    for path in ("k8s/vendor", "k8s/vendored.yaml"):
        gitutil.git(repo.path, "update-index", "--add", "--cacheinfo", f"160000,{first},{path}")
    gitutil.git(repo.path, "commit", "-q", "-m", "submodules")
    head = gitutil.git(repo.path, "rev-parse", "HEAD")
    for base in (None, first):  # the whole tree, and the change that added the submodules
        loaded = repo.load(base, head)
        notes = sorted((s.source.path, s.reason) for s in loaded.change_set.skipped)
        assert [path for path, _ in notes] == ["k8s/vendor", "k8s/vendored.yaml"]
        assert all("Git submodule" in message for _, message in notes)
        assert loaded.findings == ()


@pytest.mark.parametrize(
    ("name", "shown"),
    [("k8s/a\nb.yaml", "k8s/a\\nb.yaml"), ("k8s/\x1b[31mred.yaml", "k8s/\\x1b[31mred.yaml")],
)
def test_a_file_name_with_control_characters_is_a_finding_that_shows_it_escaped(
    repo: Repo, name: str, shown: str
) -> None:
    loaded = repo.load_files({name: CM.format(name="a", value=1)})
    assert findings(loaded) == [
        (
            shown,
            1,
            "",
            f"the file name {shown} holds control characters: rename the file "
            "(they would garble logs, annotations and reports)",
        )
    ]
    assert loaded.change_set.new == {}


@pytest.mark.parametrize("name", ["kustomization.yaml", "kustomization.yml", "Chart.yaml"])
def test_kustomize_and_helm_files_are_skipped_with_a_note(repo: Repo, name: str) -> None:
    loaded = repo.load_files(
        {f"k8s/{name}": "resources:\n  - app.yaml\n", "k8s/app.yaml": CM.format(name="a", value=1)}
    )
    assert loaded.change_set.skipped == (
        Skipped(SourceLocation(f"k8s/{name}", 1), "a kustomize or Helm file, not an object to apply"),
    )
    assert list(loaded.change_set.new) == [ref("ConfigMap", "a")]
    assert loaded.findings == ()


def test_tool_configuration_under_another_name_is_skipped_with_a_note(repo: Repo) -> None:
    text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"
    loaded = repo.load_files({"k8s/overlay.yaml": text})
    assert loaded.change_set.skipped == (
        Skipped(
            SourceLocation("k8s/overlay.yaml", 1, 0),
            "Kustomization (kustomize.config.k8s.io/v1beta1) is tool configuration, not an object",
        ),
    )
    assert loaded.change_set.new == {}


def test_a_document_without_api_version_and_kind_is_skipped_with_a_note(repo: Repo) -> None:
    text = CM.format(name="a", value=1) + "---\nreplicas: 3\nimage: web:1\n"
    loaded = repo.load_files({"k8s/values.yaml": text})
    assert loaded.change_set.skipped == (
        Skipped(SourceLocation("k8s/values.yaml", 8, 1), "no apiVersion or kind: not a Kubernetes object"),
    )
    assert list(loaded.change_set.new) == [ref("ConfigMap", "a")]
    assert loaded.findings == ()


@pytest.mark.parametrize("text", ["", "---\n", "# nothing here yet\n---\n", "---\n---\n"])
def test_a_file_without_objects_is_a_finding(repo: Repo, text: str) -> None:
    loaded = repo.load_files({"k8s/empty.yaml": text})
    assert loaded.change_set.new == {}
    assert findings(loaded) == [
        ("k8s/empty.yaml", 1, "", "no Kubernetes object in this file: it is empty or holds only `---`")
    ]


def test_empty_documents_between_objects_are_fine(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/a.yaml": "---\n" + CM.format(name="a", value=1) + "---\n---\n"})
    assert loaded.findings == ()
    assert len(loaded.change_set.new) == 1


def test_a_document_that_is_not_a_mapping_is_a_finding(repo: Repo) -> None:
    loaded = repo.load_files(
        {"k8s/a.yaml": "- a\n- b\n", "k8s/b.yaml": CM.format(name="b", value=1) + "---\n42\n"}
    )
    assert findings(loaded) == [
        ("k8s/a.yaml", 1, "", "a manifest must be a mapping, not a list"),
        ("k8s/b.yaml", 8, "", "a manifest must be a mapping, not a number"),
    ]


@pytest.mark.parametrize("aliased", [False, True], ids=["tree", "with anchors"])
def test_a_document_deeper_than_the_limit_is_a_finding_one_at_the_limit_is_not(
    repo: Repo, aliased: bool
) -> None:
    def nested(name: str, levels: int) -> str:  # the object itself and `spec` are two levels
        anchor = "&v " if aliased else ""
        lists = "[" * (levels - 2) + "]" * (levels - 2)
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\nspec:\n  deep: {anchor}{lists}\n"

    loaded = repo.load_files(
        {
            "k8s/ok.yaml": nested("ok", loading.MAX_DEPTH),
            "k8s/deep.yaml": nested("deep", loading.MAX_DEPTH + 1),
        }
    )
    assert findings(loaded) == [
        ("k8s/deep.yaml", 1, "", f"the document nests deeper than {loading.MAX_DEPTH} levels")
    ]
    assert list(loaded.change_set.new) == [ref("ConfigMap", "ok")]


# --- structure and names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field_path", "message"),
    [
        (
            "kind: ConfigMap\nmetadata:\n  name: a\n",
            "apiVersion",
            "missing or not a string: every object needs an apiVersion",
        ),
        (
            "apiVersion: v1\nmetadata:\n  name: a\n",
            "kind",
            "missing or not a string: every object needs a kind",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n",
            "metadata.name",
            "missing or not a string: every object needs a name",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
            "metadata",
            "missing or not a mapping: every object needs metadata.name",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 42\n",
            "metadata.name",
            "missing or not a string: every object needs a name",
        ),
    ],
)
def test_a_missing_field_is_a_finding_with_its_field_path(
    repo: Repo, text: str, field_path: str, message: str
) -> None:
    loaded = repo.load_files({"k8s/bad.yaml": "# leading comment\n" + text})
    assert loaded.findings == (Finding(SourceLocation("k8s/bad.yaml", 2, 0), message, field_path=field_path),)
    assert loaded.change_set.new == {}


def test_every_missing_field_of_one_document_is_reported(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/bad.yaml": "kind: ConfigMap\nmetadata:\n  labels: {}\n"})
    assert [f.field_path for f in loaded.findings] == ["apiVersion", "metadata.name"]


NAMED = "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name!r}\n"


@pytest.mark.parametrize(
    ("api", "kind", "name", "expected"),
    [
        ("v1", "ConfigMap", "MyConfig", "invalid name 'MyConfig': lowercase letters, digits, '-' and '.'"),
        ("v1", "ConfigMap", "a" * 254, "at most 253 characters"),
        ("v1", "ConfigMap", "-lead", "invalid name '-lead'"),
        ("v1", "ConfigMap", "under_score", "invalid name 'under_score'"),
        ("v1", "Namespace", "n" * 64, "at most 63 characters"),
        ("v1", "Namespace", "shop.eu", "invalid name 'shop.eu'"),
        ("v1", "Service", "1web", "a Service name must start with a letter"),
        ("v1", "Service", "Web", "invalid name 'Web'"),
        ("rbac.authorization.k8s.io/v1", "Role", "a/b", "may not be '.' or '..' or hold '/' or '%'"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "..", "may not be '.' or '..'"),
    ],
)
def test_an_invalid_name_is_a_finding_on_metadata_name(
    repo: Repo, api: str, kind: str, name: str, expected: str
) -> None:
    loaded = repo.load_files({"k8s/obj.yaml": NAMED.format(api=api, kind=kind, name=name)})
    [finding] = loaded.findings
    assert finding.field_path == "metadata.name"
    assert finding.source == SourceLocation("k8s/obj.yaml", 1, 0)
    assert expected in finding.message
    assert loaded.change_set.new == {}


@pytest.mark.parametrize(
    ("api", "kind", "name"),
    [
        ("v1", "ConfigMap", "web.config-1"),
        ("v1", "ConfigMap", "a" * 253),
        ("v1", "ConfigMap", "1st"),
        ("v1", "Namespace", "n" * 63),
        ("v1", "Service", "web-1"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "system:controller:Thing"),
    ],
)
def test_a_valid_name_is_taken(repo: Repo, api: str, kind: str, name: str) -> None:
    loaded = repo.load_files({"k8s/obj.yaml": NAMED.format(api=api, kind=kind, name=name)})
    assert loaded.findings == ()
    [manifest] = loaded.change_set.new.values()
    assert manifest.ref.name == name


@pytest.mark.parametrize(
    "namespace",
    ["Shop", "shop_eu", "shop.", pytest.param("s" * 64, id="longer-than-63-characters")],
)
def test_an_invalid_namespace_is_a_finding_on_metadata_namespace(repo: Repo, namespace: str) -> None:
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: {namespace}\n"
    loaded = repo.load_files({"k8s/a.yaml": text})
    [finding] = loaded.findings
    assert finding.field_path == "metadata.namespace"
    assert f"invalid namespace {namespace!r}" in finding.message
    assert loaded.change_set.new == {}


def test_a_namespace_on_a_cluster_scoped_kind_is_a_finding(repo: Repo) -> None:
    text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
        "  name: reader\n  namespace: shop\nrules: []\n"
    )
    loaded = repo.load_files({"k8s/rbac.yaml": text})
    assert loaded.findings == (
        Finding(
            SourceLocation("k8s/rbac.yaml", 1, 0),
            "ClusterRole is cluster-scoped and cannot have a namespace",
            field_path="metadata.namespace",
        ),
    )


def test_the_same_object_twice_names_both_places(repo: Repo) -> None:
    loaded = repo.load_files(
        {
            "k8s/a.yaml": CM.format(name="shared", value=1),
            "k8s/b.yaml": CM.format(name="other", value=1)
            + "---\n"
            + CM.format(name="shared", value=2).replace(
                "  name: shared\n", "  name: shared\n  namespace: default\n"
            ),
        }
    )
    shared = ref("ConfigMap", "shared")
    assert loaded.findings == (
        Finding(
            SourceLocation("k8s/b.yaml", 8, 1),
            "ConfigMap default/shared is defined twice: here and at k8s/a.yaml:1",
            ref=shared,
            field_path="metadata.name",
        ),
    )
    assert str(loaded.findings[0]) == (
        "k8s/b.yaml:8: ConfigMap default/shared is defined twice: here and at k8s/a.yaml:1 (field metadata.name)"
    )
    assert loaded.change_set.new[shared].source == SourceLocation("k8s/a.yaml", 1, 0)


def test_the_same_name_in_two_namespaces_or_two_kinds_is_not_a_duplicate(repo: Repo) -> None:
    loaded = repo.load_files(
        {
            "k8s/a.yaml": CM.format(name="x", value=1),
            "k8s/b.yaml": CM.format(name="x", value=1).replace(
                "  name: x\n", "  name: x\n  namespace: two\n"
            ),
            "k8s/c.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n",
        }
    )
    assert loaded.findings == ()
    assert sorted(loaded.change_set.new) == [
        ref("ConfigMap", "x"),
        ref("ConfigMap", "x", "two"),
        ref("Secret", "x"),
    ]


# --- namespaces and scopes -------------------------------------------------------------------------

MIXED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: plain
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: placed
  namespace: elsewhere
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
"""


def test_namespaced_objects_without_a_namespace_get_the_default_namespace(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/all.yaml": MIXED}, default_namespace="shop")
    assert set(loaded.change_set.new) == {
        ref("ConfigMap", "placed", "elsewhere"),
        ref("ConfigMap", "plain", "shop"),
        ref("Namespace", "shop", None),
        ObjectRef("rbac.authorization.k8s.io", "ClusterRole", None, "reader"),
    }
    plain = loaded.change_set.new[ref("ConfigMap", "plain", "shop")]
    assert plain.body["metadata"] == {"name": "plain", "namespace": "shop"}
    namespace = loaded.change_set.new[ref("Namespace", "shop", None)]
    assert "namespace" not in namespace.body["metadata"]


def test_without_a_default_namespace_it_is_default(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/all.yaml": MIXED})
    plain = loaded.change_set.new[ref("ConfigMap", "plain", "default")]
    assert plain.body["metadata"]["namespace"] == "default"
    assert ref("ConfigMap", "placed", "elsewhere") in loaded.change_set.new


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.example.com
spec:
  group: example.com
  scope: {scope}
  names: {{kind: {kind}, plural: {plural}}}
  versions: [{{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object}}}}}}]
"""


def test_a_crd_in_the_same_files_gives_the_scope_of_its_custom_kinds(repo: Repo) -> None:
    asked: list[tuple[str, str]] = []

    def scope_of(api_version: str, kind: str) -> bool | None:
        asked.append((api_version, kind))
        return None

    loaded = repo.load_files(
        {
            "k8s/crds.yaml": CRD.format(plural="widgets", kind="Widget", scope="Namespaced")
            + "---\n"
            + CRD.format(plural="gadgets", kind="Gadget", scope="Cluster"),
            "k8s/objects.yaml": (
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\n"
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n"
            ),
        },
        default_namespace="shop",
        scope_of=scope_of,
    )
    assert loaded.findings == ()
    assert ObjectRef("example.com", "Widget", "shop", "w") in loaded.change_set.new
    assert ObjectRef("example.com", "Gadget", None, "g") in loaded.change_set.new
    assert asked == []  # the CRDs answered; the cluster was not asked


def test_a_namespace_on_a_custom_kind_that_its_crd_makes_cluster_scoped_is_a_finding(repo: Repo) -> None:
    loaded = repo.load_files(
        {
            "k8s/crd.yaml": CRD.format(plural="gadgets", kind="Gadget", scope="Cluster"),
            "k8s/g.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: shop\n",
        }
    )
    assert findings(loaded) == [
        ("k8s/g.yaml", 1, "metadata.namespace", "Gadget is cluster-scoped and cannot have a namespace")
    ]


def test_the_scope_of_an_unknown_kind_is_asked_once_per_kind(repo: Repo) -> None:
    asked: list[tuple[str, str]] = []

    def scope_of(api_version: str, kind: str) -> bool | None:
        asked.append((api_version, kind))
        return kind == "Widget"

    loaded = repo.load_files(
        {
            "k8s/objects.yaml": (
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: a\n---\n"
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: b\n---\n"
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: c\n"
            )
        },
        scope_of=scope_of,
    )
    assert sorted(asked) == [("example.com/v1", "Gadget"), ("example.com/v1", "Widget")]
    assert set(loaded.change_set.new) == {
        ObjectRef("example.com", "Gadget", None, "c"),
        ObjectRef("example.com", "Widget", "default", "a"),
        ObjectRef("example.com", "Widget", "default", "b"),
    }


def test_an_unknown_scope_leaves_the_namespace_as_written(repo: Repo) -> None:
    loaded = repo.load_files(
        {
            "k8s/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: a\n---\n"
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: b\n  namespace: shop\n"
        },
        default_namespace="other",
    )
    assert set(loaded.change_set.new) == {
        ObjectRef("example.com", "Widget", None, "a"),
        ObjectRef("example.com", "Widget", "shop", "b"),
    }
    assert loaded.findings == ()


# --- unreadable files ------------------------------------------------------------------------------


def test_a_binary_file_is_a_finding(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/image.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"})
    assert findings(loaded) == [
        ("k8s/image.yaml", 1, "", "binary file (it holds NUL bytes), not a YAML or JSON manifest")
    ]
    assert loaded.change_set.new == {}


def test_a_file_that_is_not_utf8_is_a_finding_with_its_line(repo: Repo) -> None:
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"
    loaded = repo.load_files({"k8s/latin1.yaml": data})
    offset = data.index(b"\xe9")
    assert findings(loaded) == [("k8s/latin1.yaml", 4, "", f"not UTF-8 text (byte {offset})")]
    assert loaded.change_set.new == {}


def test_an_oversize_file_is_a_finding(repo: Repo) -> None:
    line = "# " + "x" * 1021 + "\n"  # 1 KiB a line
    data = CM.format(name="big", value=1) + line * (4 * 1024)
    loaded = repo.load_files({"k8s/big.yaml": data, "k8s/small.yaml": CM.format(name="small", value=1)})
    [finding] = loaded.findings
    assert finding.source == SourceLocation("k8s/big.yaml", 1)
    assert f"{len(data.encode()):,} bytes" in finding.message
    assert "over the limit of 4,194,304 bytes" in finding.message
    assert list(loaded.change_set.new) == [ref("ConfigMap", "small")]


def test_invalid_yaml_is_a_finding_with_its_line(repo: Repo) -> None:
    text = CM.format(name="a", value=1) + "---\napiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n"
    loaded = repo.load_files({"k8s/broken.yaml": text})
    [finding] = loaded.findings
    assert finding.source.path == "k8s/broken.yaml"
    assert finding.source.line == 10
    assert finding.message.startswith("invalid YAML: ")
    assert loaded.change_set.new == {}  # a file that does not parse gives no object at all


def test_a_duplicate_key_is_a_finding_with_its_line(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/dup.yaml": CM.format(name="a", value=1) + "  key: again\n"})
    assert findings(loaded) == [
        (
            "k8s/dup.yaml",
            7,
            "",
            "invalid YAML: duplicate key 'key' (first at line 6): kubectl would silently keep the last one",
        )
    ]


# --- JSON --------------------------------------------------------------------------------------------


def test_json_manifests_are_loaded(repo: Repo) -> None:
    single = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {"name": "from-json"}\n}\n'
    as_list = (
        '{"apiVersion": "v1", "kind": "List", "items": [\n'
        '  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "one"}},\n'
        '  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "two"}}\n'
        "]}\n"
    )
    loaded = repo.load_files({"k8s/cm.json": single, "k8s/list.json": as_list}, default_namespace="shop")
    assert sources(loaded) == {
        ref("ConfigMap", "from-json", "shop"): SourceLocation("k8s/cm.json", 1, 0),
        ref("Secret", "one", "shop"): SourceLocation("k8s/list.json", 2, 0),
        ref("Secret", "two", "shop"): SourceLocation("k8s/list.json", 3, 0),
    }
    assert loaded.findings == ()


def test_a_json_syntax_error_is_a_finding_with_its_line(repo: Repo) -> None:
    text = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap"\n  "metadata": {"name": "x"}\n}\n'
    loaded = repo.load_files({"k8s/bad.json": text})
    [finding] = loaded.findings
    assert finding.source == SourceLocation("k8s/bad.json", 4)
    assert finding.message.startswith("invalid JSON: ")
    assert "did not find expected ','" in finding.message
    assert loaded.change_set.new == {}


def test_a_duplicate_key_in_a_json_manifest_is_a_finding_as_in_yaml(repo: Repo) -> None:
    """YAML refuses a duplicate key rather than keep the last value silently; JSON must do the same."""
    text = '{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "a", "name": "b"}}\n'
    loaded = repo.load_files({"k8s/dup.json": text})
    [finding] = loaded.findings
    assert finding.source.path == "k8s/dup.json"
    assert "duplicate key 'name'" in finding.message
    assert loaded.change_set.new == {}


def test_a_json_file_that_is_not_an_object_is_a_finding(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/array.json": "[1, 2]"})
    assert findings(loaded) == [("k8s/array.json", 1, "", "a manifest must be a mapping, not a list")]


# --- symlinks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["../../outside.yaml", "/etc/passwd", "../.."])
def test_a_symlink_pointing_outside_the_repository_is_a_finding(repo: Repo, target: str) -> None:
    loaded = repo.load_files({"k8s/link.yaml": gitutil.Symlink(target)})
    assert findings(loaded) == [
        ("k8s/link.yaml", 1, "", f"symlink to {target!r} points outside the repository")
    ]
    assert loaded.change_set.new == {}


def test_a_symlink_inside_the_repository_is_skipped_with_a_note(repo: Repo) -> None:
    loaded = repo.load_files(
        {
            "shared/cm.yaml": CM.format(name="a", value=1),
            "k8s/link.yaml": gitutil.Symlink("../shared/cm.yaml"),
        }
    )
    assert loaded.findings == ()
    assert loaded.change_set.skipped == (
        Skipped(
            SourceLocation("k8s/link.yaml", 1),
            "symlink to ../shared/cm.yaml: not followed; list the target's path instead",
        ),
    )
    assert loaded.change_set.new == {}


# --- both sides of a range -----------------------------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: web:1
"""

REFORMATTED = """\
# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
    labels:
        app: web   # used by the Service
    name: web
spec:
    template:
        spec:
            containers: [{image: "web:1", name: web}]
    replicas: 2
"""


def test_a_first_deploy_reads_the_whole_tree(repo: Repo) -> None:
    repo.commit({"k8s/a.yaml": CM.format(name="a", value=1)})
    head = repo.commit({"k8s/b.yaml": CM.format(name="b", value=1)})
    loaded = repo.load(None, head)
    assert loaded.change_set.full
    assert sorted(loaded.change_set.new) == [ref("ConfigMap", "a"), ref("ConfigMap", "b")]


def test_only_changed_files_are_read_between_two_commits(repo: Repo) -> None:
    base = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1), "k8s/broken.yaml": "a: [\n"})
    head = repo.commit({"k8s/b.yaml": CM.format(name="b", value=1)})
    loaded = repo.load(base, head)
    assert not loaded.change_set.full
    assert loaded.change_set.old == {}
    assert list(loaded.change_set.new) == [ref("ConfigMap", "b")]
    assert loaded.findings == ()  # the unchanged broken file is not read


def test_findings_come_from_the_new_side_only(repo: Repo) -> None:
    base = repo.commit({"k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"})
    head = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1)})
    loaded = repo.load(base, head)
    assert loaded.findings == ()
    assert list(loaded.change_set.new) == [ref("ConfigMap", "a")]


def test_a_renamed_file_has_nothing_to_apply(repo: Repo) -> None:
    base = repo.commit({"k8s/old-name.yaml": MULTI})
    head = repo.commit({"k8s/old-name.yaml": None, "k8s/new-name.yaml": MULTI})
    loaded = repo.load(base, head)
    chosen = planning.candidates(loaded.change_set)
    assert chosen.to_apply == ()
    assert chosen.gone == ()
    assert sorted(m.ref for m in chosen.unchanged) == sorted(loaded.change_set.new)
    assert len(chosen.unchanged) == 3
    assert all(m.source.path == "k8s/new-name.yaml" for m in chosen.unchanged)


def test_a_reformatted_and_recommented_object_has_nothing_to_apply(repo: Repo) -> None:
    base = repo.commit({"k8s/web.yaml": DEPLOYMENT})
    head = repo.commit({"k8s/web.yaml": REFORMATTED})
    loaded = repo.load(base, head)
    assert loaded.findings == ()
    chosen = planning.candidates(loaded.change_set)
    assert chosen.to_apply == ()
    assert [m.ref for m in chosen.unchanged] == [ref("Deployment", "web", group="apps")]


def test_moving_an_object_to_another_file_has_nothing_to_apply(repo: Repo) -> None:
    base = repo.commit({"k8s/app.yaml": MULTI})
    first, second, third = MULTI.rstrip("-\n").split("---\n")
    head = repo.commit({"k8s/app.yaml": first + "---\n" + second, "k8s/deployment.yaml": third})
    chosen = planning.candidates(repo.load(base, head).change_set)
    assert chosen.to_apply == ()
    assert chosen.gone == ()
    assert len(chosen.unchanged) == 3


def test_one_changed_document_of_a_multi_document_file_is_the_only_object_to_apply(repo: Repo) -> None:
    base = repo.commit({"k8s/app.yaml": MULTI})
    head = repo.commit({"k8s/app.yaml": MULTI.replace("mode: fast", "mode: safe")})
    loaded = repo.load(base, head)
    chosen = planning.candidates(loaded.change_set)
    assert [m.ref for m in chosen.to_apply] == [ref("ConfigMap", "settings")]
    assert chosen.to_apply[0].body["data"] == {"mode": "safe"}
    assert len(chosen.unchanged) == 2
    assert chosen.gone == ()


def test_a_deleted_object_is_a_prune_candidate(repo: Repo) -> None:
    base = repo.commit({"k8s/app.yaml": MULTI, "k8s/extra.yaml": CM.format(name="extra", value=1)})
    head = repo.commit({"k8s/extra.yaml": None})
    loaded = repo.load(base, head)
    chosen = planning.candidates(loaded.change_set)
    assert chosen.to_apply == ()
    assert [m.ref for m in chosen.gone] == [ref("ConfigMap", "extra")]
    gone: Manifest = chosen.gone[0]
    assert gone.source == SourceLocation("k8s/extra.yaml", 1, 0)


def test_writing_out_the_default_namespace_is_not_a_change(repo: Repo) -> None:
    base = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1)})
    head = repo.commit(
        {
            "k8s/a.yaml": CM.format(name="a", value=1).replace(
                "  name: a\n", "  name: a\n  namespace: default\n"
            )
        }
    )
    chosen = planning.candidates(repo.load(base, head).change_set)
    # The same object and the same body once the namespace is defaulted: nothing to apply.
    assert chosen.to_apply == ()
    assert [m.ref for m in chosen.unchanged] == [ref("ConfigMap", "a")]


def test_objects_of_an_unknown_kind_with_and_without_a_namespace_can_be_planned(repo: Repo) -> None:
    """Offline, no CRD in the change: the scope of a custom kind is unknown, as in `plan --offline`."""
    head = repo.commit(
        {
            "k8s/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: a\n---\n"
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: b\n  namespace: shop\n"
        }
    )
    chosen = planning.candidates(repo.load(None, head).change_set)
    assert {m.ref for m in chosen.to_apply} == {
        ObjectRef("example.com", "Widget", None, "a"),
        ObjectRef("example.com", "Widget", "shop", "b"),
    }


def test_secret_data_that_is_not_base64_is_a_finding_that_hides_the_value(repo: Repo) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ns}\n"
        "data:\n  good: aGVsbG8=\n  bad: 'n0t-base64-s3cret!'\n"
    )
    loaded = repo.load_files({"k8s/secret.yaml": text})
    assert findings(loaded) == [
        ("k8s/secret.yaml", 1, "data.bad", "not valid base64 (use stringData for plain text)")
    ]
    assert all("s3cret" not in f.message for f in loaded.findings)


# --- large sets are parsed in forked processes -----------------------------------------------------


def counted(wire: forking.Wire[Any], counts: list[int]) -> forking.Wire[Any]:
    """`wire`, counting in `counts` what it rebuilt here (what a child sent over it)."""

    rebuild = wire.from_plain
    assert rebuild is not None

    def from_plain(plain: Any) -> Any:
        counts.append(1)
        return rebuild(plain)

    return forking.Wire(wire.to_plain, from_plain)


def test_a_set_parsed_in_several_processes_loads_exactly_as_in_one(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, gitutil.Content | gitutil.Symlink] = {
        f"k8s/app-{n:02}.yaml": CM.format(name=f"settings-{n}", value=n) + "---\n" + MULTI for n in range(30)
    }
    files["k8s/app-05.yaml"] = "a: [1, 2\n"  # a finding in the middle
    files["k8s/kustomization.yaml"] = "resources: []\n"  # a note
    files["k8s/link.yaml"] = gitutil.Symlink("app-01.yaml")
    head = repo.commit(files)
    monkeypatch.setattr(loading, "PARALLEL_MIN_BYTES", 10**9)
    serial = repo.load(None, head)
    monkeypatch.setattr(loading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(loading, "SHARE_BYTES", 500)  # a share of two or three files
    monkeypatch.setattr(forking, "usable_processes", lambda: 3)
    sent: list[int] = []
    monkeypatch.setattr(loading, "SIDE_WIRE", counted(loading.SIDE_WIRE, sent))
    parallel = repo.load(None, head)
    assert sent  # the children's shares came back as plain data, rebuilt here
    assert len(serial.change_set.new) == 29 + 3  # the objects of MULTI are the same in every file
    assert len(serial.findings) > 1 and serial.change_set.skipped
    assert parallel == serial  # the same objects, findings, notes and texts, in the same order


@pytest.fixture
def forking_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forking, "usable_processes", lambda: 2)


def not_here(*args: object, **kwargs: object) -> tuple[loading.Side, loading.Side]:
    raise AssertionError("read in this process: the read ahead was not used")


@pytest.mark.usefixtures("forking_allowed")
def test_a_range_read_ahead_loads_exactly_as_one_read_when_asked(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1), "k8s/b.yaml": MULTI})
    head = repo.commit(
        {"k8s/a.yaml": CM.format(name="a", value=2), "k8s/b.yaml": None, "k8s/c.yaml": "a: [\n"}
    )
    span = Range(base, head)
    sent: list[int] = []
    monkeypatch.setattr(loading, "SIDES_WIRE", counted(loading.SIDES_WIRE, sent))
    with open_repo(repo.path) as git:
        ahead = loading.ReadAhead.start(git, span, ("k8s",), full=False)
        with monkeypatch.context() as patched:
            patched.setattr(loading, "read_range", not_here)  # in this process only: the child forked before
            try:
                sides = ahead.take(span, ["k8s"], full=False)
            finally:
                ahead.close()
        assert sides is not None and sent == [1]
        read_ahead = loading.load(
            git, span, ("k8s",), default_namespace=None, scope_of=unknown_scope, sides=sides
        )
    read_here = repo.load(base, head)
    assert read_ahead == read_here
    assert read_here.change_set.old and read_here.change_set.new and read_here.findings


@pytest.mark.usefixtures("forking_allowed")
def test_a_read_ahead_is_not_taken_for_another_range_paths_or_fullness(repo: Repo) -> None:
    base = repo.commit({"k8s/a.yaml": CM.format(name="a", value=1)})
    head = repo.commit({"k8s/a.yaml": CM.format(name="a", value=2)})
    span = Range(base, head)
    with open_repo(repo.path) as git:
        ahead = loading.ReadAhead.start(git, span, ("k8s",), full=False)
        try:
            assert ahead.take(span, ["k8s"], full=True) is None
            assert ahead.take(Range(None, head), ["k8s"], full=False) is None
            assert ahead.take(span, ["k8s", "more"], full=False) is None
        finally:
            ahead.close()


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shares_are_contiguous_and_of_about_equal_size(count: int) -> None:
    blobs = [(GitFile(f"f{n}.yaml", "0" * 40), b"x" * (10 + n % 4)) for n in range(40)]
    shares = loading.split_by_size(blobs, count)
    assert [blob for share in shares for blob in share] == blobs
    assert len(shares) == count
    sizes = [sum(len(data) for _, data in share) for share in shares]
    assert max(sizes) - min(sizes) <= 2 * 13


# --- rendered objects ------------------------------------------------------------------------------


def rendered(body: dict[str, object], path: str, namespace: str | None = None) -> loading.Rendered:
    return loading.Rendered(body, SourceLocation(path, 3), namespace)


def test_rendered_objects_join_their_side_keyed_like_files_with_their_origin(repo: Repo) -> None:
    base = repo.commit({"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"})
    head = repo.commit(
        {"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n", "x": "1"}
    )
    old = rendered(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}, "chart/svc.yaml", "app"
    )
    new = rendered(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "NodePort"}},
        "chart/svc.yaml",
        "app",
    )
    with open_repo(repo.path) as git:
        loaded = loading.load(
            git,
            Range(base, head),
            ("k8s",),
            default_namespace="elsewhere",
            scope_of=unknown_scope,
            rendered=loading.RenderedSides(old=[old], new=[new]),
        )
    web = ref("Service", "web", "app")  # the release's namespace, not the environment's
    assert set(loaded.change_set.old) == {web} and set(loaded.change_set.new) == {web}
    assert loaded.change_set.new[web].source == SourceLocation("chart/svc.yaml", 3)
    assert loaded.change_set.new[web].body["metadata"]["namespace"] == "app"
    assert [m.ref for m in planning.candidates(loaded.change_set).to_apply] == [web]


def test_a_rendered_object_gets_the_structure_findings_of_a_file(repo: Repo) -> None:
    head = repo.commit({"other/readme.txt": "not a manifest"})
    bad = rendered(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}, "base/cm.yaml"
    )
    with open_repo(repo.path) as git:
        loaded = loading.load(
            git,
            Range(None, head),
            (),
            default_namespace=None,
            scope_of=unknown_scope,
            rendered=loading.RenderedSides(new=[bad]),
        )
    assert [(f.source.path, f.field_path) for f in loaded.findings] == [("base/cm.yaml", "metadata.name")]
    assert loaded.change_set.new == {}  # and no paths read no plain file at all


# --- a check run on each object where it is parsed -------------------------------------------------


def failing_names(*names: str) -> loading.CheckAhead:
    """A check that every object passes except those named: a stand-in for validation's fast check."""
    return lambda api_version, kind, body: body["metadata"]["name"] not in names


def checked(loaded: loading.Loaded) -> dict[str, bool]:
    return {f"{r.kind}/{r.name}": m.checked_ahead for r, m in loaded.change_set.new.items()}


CM_IN = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  key: v{value}\n"
)


def test_objects_that_passed_the_check_ahead_are_marked_in_one_process_and_in_several(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, gitutil.Content | gitutil.Symlink] = {
        f"k8s/app-{n:02}.yaml": "---\n".join(CM_IN.format(name=f"c-{n}-{k}", value=k) for k in range(3))
        for n in range(30)
    }
    head = repo.commit(files)
    check = failing_names("c-3-0", "c-17-2", "c-29-1")

    def load() -> loading.Loaded:
        with open_repo(repo.path) as git:
            return loading.load(
                git,
                Range(None, head),
                ("k8s",),
                default_namespace="apps",
                scope_of=unknown_scope,
                check_ahead=check,
            )

    monkeypatch.setattr(loading, "PARALLEL_MIN_BYTES", 10**9)
    serial = load()
    monkeypatch.setattr(loading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(loading, "SHARE_BYTES", 300)  # shares of two or three files, in three processes
    monkeypatch.setattr(forking, "usable_processes", lambda: 3)
    parallel = load()
    assert checked(parallel) == checked(serial)
    assert len(checked(serial)) == 90
    assert {name for name, passed in checked(serial).items() if not passed} == {
        "ConfigMap/c-3-0",
        "ConfigMap/c-17-2",
        "ConfigMap/c-29-1",
    }


def test_a_body_changed_while_keying_is_not_taken_as_checked(repo: Repo) -> None:
    head = repo.commit(
        {
            "k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\n",
            "k8s/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",  # namespace defaulted
        }
    )
    with open_repo(repo.path) as git:
        loaded = loading.load(
            git,
            Range(None, head),
            ("k8s",),
            default_namespace="apps",
            scope_of=lambda api_version, kind: True,
            check_ahead=failing_names(),
        )
    assert checked(loaded) == {"ConfigMap/a": True, "ConfigMap/b": False}


def test_without_a_check_ahead_nothing_is_marked(repo: Repo) -> None:
    loaded = repo.load_files({"k8s/a.yaml": CM.format(name="a", value=1)})
    assert checked(loaded) == {"ConfigMap/a": False}
