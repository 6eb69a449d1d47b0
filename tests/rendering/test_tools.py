"""Finding the renderers: kustomize before `kubectl kustomize`, helm; a missing one is exit 2 naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_push.errors import ConfigError, ExitCode, RendererMissing
from gitops_push.gitrepo import open_repo
from gitops_push.model import LineBasis, SourceLocation
from gitops_push.stages import rendering
from tests.unit import gitutil

KUSTOMIZE = rendering.KustomizeSource("app")
HELM = rendering.HelmSource("chart", "release", "ns")
# A kubectl that answers its version and hands `kubectl kustomize DIR` to the real kustomize.
FAKE_KUBECTL = """\
#!/bin/sh
case "$1" in
  version) echo '{{"clientVersion": {{"gitVersion": "v1.36.3"}}, "kustomizeVersion": "v5.7.1"}}' ;;
  kustomize) shift; exec "{real}" build "$@" ;;
  *) exit 1 ;;
esac
"""


def bin_folder(tmp_path: Path, renderer_bin: Path, *names: str) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in names:
        (folder / name).symlink_to(renderer_bin / name)
    return str(folder)


def test_a_missing_helm_is_a_usage_error_naming_it(tmp_path: Path, renderer_bin: Path) -> None:
    path = bin_folder(tmp_path, renderer_bin, "kustomize")
    with pytest.raises(RendererMissing) as caught:
        rendering.find_tools([KUSTOMIZE, HELM], search_path=path)
    assert caught.value.message == "helm is not on PATH: a helm source needs it to render its chart"
    assert caught.value.hint is not None and "install Helm 3" in caught.value.hint
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.reference == "renderer-missing"


def test_a_missing_kustomize_and_kubectl_is_a_usage_error_naming_both(
    tmp_path: Path, renderer_bin: Path
) -> None:
    path = bin_folder(tmp_path, renderer_bin, "helm")
    with pytest.raises(RendererMissing) as caught:
        rendering.find_tools([HELM, KUSTOMIZE], search_path=path)
    assert (
        caught.value.message
        == "neither kustomize nor kubectl is on PATH: a kustomize source needs one to render"
    )
    assert caught.value.hint is not None and "`kubectl kustomize`" in caught.value.hint
    assert caught.value.exit_code == ExitCode.USAGE


def test_only_the_tools_the_sources_need_are_looked_for(tmp_path: Path, renderer_bin: Path) -> None:
    path = bin_folder(tmp_path, renderer_bin, "kustomize")
    tools = rendering.find_tools([KUSTOMIZE], search_path=path)
    assert tools.helm is None
    assert tools.versions() == {"kustomize": "v5.8.2"}
    with pytest.raises(RendererMissing):
        tools.for_source(HELM)
    assert rendering.find_tools([], search_path=path) == rendering.Tools()


def test_both_found_report_their_versions(tmp_path: Path, renderer_bin: Path) -> None:
    path = bin_folder(tmp_path, renderer_bin, "kustomize", "helm")
    tools = rendering.find_tools([KUSTOMIZE, HELM], search_path=path)
    assert tools.versions() == {"kustomize": "v5.8.2", "helm": "v3.21.4"}
    assert tools.kustomize is not None and tools.kustomize.command == (f"{path}/kustomize", "build")
    assert tools.helm is not None and tools.helm.command == (f"{path}/helm", "template")


def test_kubectl_kustomize_renders_when_kustomize_is_missing(tmp_path: Path, renderer_bin: Path) -> None:
    path = bin_folder(tmp_path, renderer_bin)
    kubectl = Path(path) / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.format(real=renderer_bin / "kustomize"), encoding="utf-8")
    kubectl.chmod(0o755)
    tools = rendering.find_tools([KUSTOMIZE], search_path=path)
    assert tools.kustomize == rendering.Tool(
        "kubectl kustomize", (str(kubectl), "kustomize"), "kubectl v1.36.3, kustomize v5.7.1"
    )
    workdir = gitutil.init(tmp_path / "repo")
    commit = gitutil.commit(
        workdir,
        {
            "app/kustomization.yaml": "resources: [cm.yaml]\n",
            "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        },
    )
    with open_repo(workdir) as repo:
        result = rendering.render(repo, commit, KUSTOMIZE, tools=tools, cache_dir=tmp_path / "cache")
        with_kustomize = rendering.find_tools([KUSTOMIZE], search_path=str(renderer_bin))
        other = rendering.render(repo, commit, KUSTOMIZE, tools=with_kustomize, cache_dir=tmp_path / "cache")
    assert [o.body for o in result.objects] == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    ]
    assert result.objects[0].origin == SourceLocation("app/cm.yaml", 1, 0, LineBasis.BUILT)
    assert other.key != result.key  # the tool and its version are part of the cache key
    assert other.objects == result.objects


def test_source_paths_are_cleaned_and_may_not_leave_the_repository() -> None:
    assert rendering.KustomizeSource("./deploy//overlays/staging/").path == "deploy/overlays/staging"
    assert rendering.KustomizeSource(".").path == ""
    assert rendering.HelmSource("charts/x/", "r", "ns", values=("./v.yaml",)).values == ("v.yaml",)
    for bad in ("../elsewhere", "/abs/path"):
        with pytest.raises(ConfigError):
            rendering.KustomizeSource(bad)
    with pytest.raises(ConfigError) as caught:
        rendering.HelmSource("c", "r", "ns", set_values=("novalue",))
    assert caught.value.message == "helm set value 'novalue' has no '='"


def test_exists_at_tells_a_source_added_later_from_one_that_was_there(tmp_path: Path) -> None:
    workdir = gitutil.init(tmp_path / "repo")
    before = gitutil.commit(workdir, {"README.md": "empty\n"})
    after = gitutil.commit(
        workdir, {"app/kustomization.yaml": "resources: []\n", "chart/Chart.yaml": "name: c\n"}
    )
    with open_repo(workdir) as repo:
        assert [rendering.exists_at(repo, c, s) for c in (before, after) for s in (KUSTOMIZE, HELM)] == [
            False,
            False,
            True,
            True,
        ]
