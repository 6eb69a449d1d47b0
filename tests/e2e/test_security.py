"""Issue 14 against the real API server: an admission policy that echoes a Secret's data, and a
kubeconfig that turns TLS verification off.

- 14.2: a ValidatingAdmissionPolicy refuses a Secret with a message that quotes `object.data` (the
  value is long enough to run past the 2,000-character cut). No output (text, JSON, JUnit, GitHub
  annotations and step summary) holds any 16-character run of the value, plain or base64.
- 14.8: with `insecure-skip-tls-verify`, the run warns once in every output and names the server and
  context; urllib3's per-request warning would fail the test (pytest turns warnings into errors).
"""

from __future__ import annotations

import base64
import secrets
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_push.kube import Cluster, KubeApiError
from tests.e2e.conftest import DevCluster
from tests.e2e.workspace import SECRETS, Result, Workspace, admission_policy, namespace_manifest, unique

pytestmark = pytest.mark.e2e

RUN = 16  # masking.MIN_RUN: no run this long of the value may survive


def pem_key() -> str:
    body = base64.b64encode(secrets.token_bytes(1800)).decode()
    return (
        "-----BEGIN PRIVATE KEY-----\n" + "\n".join(textwrap.wrap(body, 64)) + "\n-----END PRIVATE KEY-----\n"
    )


def pieces(value: str) -> set[str]:
    forms = {value, base64.b64encode(value.encode()).decode(), "".join(value.split())}
    return {f[i : i + RUN] for f in forms for i in range(len(f) - RUN + 1) if f[i : i + RUN].strip()}


def echoing_policy(kube: Cluster, namespace: str) -> None:
    """Refuse every Secret in `namespace`, quoting its key after 1,500 characters of padding."""
    padding = "p" * 1500
    admission_policy(
        kube,
        f"echo-{namespace}",
        plural="secrets",
        validation={
            "expression": "false",
            "messageExpression": f"'{padding} object.data.key=' + string(object.data['key'])",
        },
        match={"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}},
    )


def wait_until_refused(kube: Cluster, namespace: str) -> None:
    """A new policy takes a moment to be enforced: dry-run a Secret until it is refused."""
    probe = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "probe", "namespace": namespace},
        "data": {"key": base64.b64encode(b"probe").decode()},
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            kube.apply(SECRETS, probe, field_manager="e2e-setup", dry_run=True)
        except KubeApiError as exc:
            if "object.data.key=" in exc.full_message:
                return
        time.sleep(0.5)
    pytest.fail("the ValidatingAdmissionPolicy was not enforced within 60 s")


def test_a_policy_echoing_secret_data_leaks_nothing(
    workspace: Workspace, kube: Cluster, tmp_path: Path
) -> None:
    namespace = unique("echo")
    key = pem_key()
    workspace.write("k8s/ns.yaml", namespace_manifest(namespace))
    workspace.commit("the namespace first")
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    echoing_policy(kube, namespace)
    wait_until_refused(kube, namespace)
    encoded = base64.b64encode(key.encode()).decode()
    workspace.write(
        "k8s/tls.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: tls, namespace: {namespace}}}\ndata: {{key: {encoded}}}\n",
    )
    workspace.commit("a Secret the policy refuses, quoting it")

    summary = tmp_path / "summary.md"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    texts: list[str] = []
    for output, env in (("text", {}), ("json", {}), ("github", github)):
        junit = tmp_path / f"junit-{output}.xml"
        for command in ("plan", "deploy"):
            result = workspace.cli(
                command, "--path", "k8s", "-v", "-o", output, "--junit", str(junit), env=env
            )
            assert result.exit_code == 4, result.stdout + result.stderr
            texts += [result.stdout, result.stderr, junit.read_text()]
            if output == "json":
                [error] = [o["error"] for o in result.json["objects"] if o["name"] == "tls"]
                assert "403" in error or "Invalid" in error or "Forbidden" in error, error
    texts.append(summary.read_text())
    leaked = {piece for piece in pieces(key) for text in texts if piece in text}
    assert not leaked, f"{len(leaked)} pieces of the key leaked, e.g. {sorted(leaked)[:3]}"
    assert kube.get(SECRETS, namespace, "tls") is None


def insecure_kubeconfig(cluster: DevCluster, tmp_path: Path) -> tuple[Path, str, str]:
    config: dict[str, Any] = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"].pop("certificate-authority-data", None)
        entry["cluster"].pop("certificate-authority", None)
        entry["cluster"]["insecure-skip-tls-verify"] = True
    path = tmp_path / "insecure.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path, config["clusters"][0]["cluster"]["server"], config["current-context"]


def test_an_insecure_kubeconfig_is_named_and_warned_about_once(
    cluster: DevCluster, workspace: Workspace, tmp_path: Path
) -> None:
    kubeconfig, server, context = insecure_kubeconfig(cluster, tmp_path)
    workspace.write("k8s/ns.yaml", namespace_manifest(unique("tls")))
    workspace.commit("something to plan")

    text: Result = workspace.cli("plan", "--path", "k8s", kubeconfig=kubeconfig)
    assert text.exit_code == 0, text.stdout + text.stderr
    assert f"cluster: {server} (context {context})" in text.stderr
    assert text.stderr.count("TLS verification is off") == 1, text.stderr

    document = workspace.cli("plan", "--path", "k8s", "-o", "json", kubeconfig=kubeconfig).json
    assert document["cluster"] == {"server": server, "context": context, "insecure": True}
    assert len(document["warnings"]) == 1 and "TLS verification is off" in document["warnings"][0]

    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    github = workspace.cli("plan", "--path", "k8s", "-o", "github", kubeconfig=kubeconfig, env=env)
    assert [line for line in github.stdout.splitlines() if line.startswith("::warning")] == [
        line for line in github.stdout.splitlines() if "title=TLS verification is off::" in line
    ]
    assert github.stdout.count("::warning") == 1, github.stdout
    assert server in summary.read_text()

    verified = workspace.cli("plan", "--path", "k8s", "-o", "json").json
    assert verified["cluster"]["insecure"] is False and verified["warnings"] == []
