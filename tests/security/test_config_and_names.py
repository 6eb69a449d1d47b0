"""gitops-push.yaml comes from Git at the commit to deploy, never from the work tree or through a
symlink, and its errors quote no value; environment names and tag prefixes are checked before any
request. The kubeconfig points at a closed port: a run that got as far as a request would exit 1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.workspace import Result, Workspace, make_workspace

TOKEN = "ghp_s3cr3tT0kenTh4tMustNeverBePrinted"
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: b}\n"


def closed_port_kubeconfig(folder: Path) -> Path:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    path = folder / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Workspace:
    workspace = make_workspace(tmp_path, closed_port_kubeconfig(tmp_path))
    workspace.env = "prod"
    workspace.write("k8s/cm.yaml", CONFIG_MAP)
    return workspace


def output(result: Result) -> str:
    return result.stdout + result.stderr


def test_a_symlinked_config_is_refused_and_its_target_never_printed(repo: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text(f"{TOKEN}\n")
    (repo.root / "gitops-push.yaml").symlink_to(secret)
    repo.commit("a config that is a link to a token")

    for args in (
        ("plan", "--offline", "--path", "k8s"),
        ("plan", "--offline", "--path", "k8s", "-o", "github"),
    ):
        result = repo.cli(*args)
        assert result.exit_code == 2, output(result)
        assert "gitops-push.yaml is a symbolic link" in output(result)
        assert TOKEN not in output(result)


def test_a_config_holding_a_value_in_the_wrong_place_is_refused_without_quoting_it(repo: Workspace) -> None:
    repo.write("gitops-push.yaml", f"environments:\n  prod:\n    paths: [k8s]\n    namespace: {TOKEN}\n")
    repo.commit()
    result = repo.cli("plan", "--offline", "-o", "json")
    assert result.exit_code == 2, output(result)
    assert "environments.prod.namespace: does not match the pattern" in output(result)
    assert TOKEN not in output(result)
    repo.write("gitops-push.yaml", f"{TOKEN}\n")  # the whole file a token: not a mapping
    repo.commit()
    result = repo.cli("plan", "--offline", "-o", "json")
    assert result.exit_code == 2 and TOKEN not in output(result), output(result)


def test_the_config_is_read_at_the_commit_not_from_the_work_tree(repo: Workspace) -> None:
    repo.write("gitops-push.yaml", "environments:\n  prod:\n    paths: [k8s]\n")
    repo.commit()
    repo.write("gitops-push.yaml", "environments:\n  prod:\n    paths: [elsewhere]\n")  # not committed
    result = repo.cli("plan", "--offline", "-o", "json")
    assert result.exit_code == 0, output(result)
    assert [o["name"] for o in result.json["objects"]] == ["c"]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--env", "a/b"), "environment name 'a/b' cannot name Kubernetes objects"),
        (("--env", "Prod_1"), "environment name 'Prod_1' cannot name Kubernetes objects"),
        (("--tag-prefix=--message=INJECTED",), "tag prefix '--message=INJECTED' is not a valid Git ref name"),
        (("--tag-prefix", "deployed/../x"), "is not a valid Git ref name"),
    ],
)
def test_bad_names_are_refused_before_any_request(repo: Workspace, flags: tuple[str, ...], says: str) -> None:
    repo.commit()
    result = repo.cli("deploy", "--path", "k8s", *flags)
    assert result.exit_code == 2, output(result)  # 1 would mean it reached for the (closed) server
    assert says in output(result)
    assert repo.tags() == [] and repo.git("tag") == ""
