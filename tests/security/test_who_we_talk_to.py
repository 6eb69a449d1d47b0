"""Issue 14.8: every run names the server and context it used, and warns once, everywhere, when the
kubeconfig turns TLS verification off.

The reporters get the Connected event that the pipeline sends after `kube.connect`; the e2e test
tests/e2e/test_security.py connects to the real API server with such a kubeconfig.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from gitops_push import kube, reporters
from gitops_push.events import Connected, Event, RunFinished, RunStarted

SERVER = "https://10.0.0.1:6443"


def run(output: str, insecure: bool, tmp_path: Path) -> tuple[str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    summary = tmp_path / "summary.md"
    sink = reporters.build(
        output,
        stdout=out,
        stderr=err,
        environ={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)} if output == "github" else {},
    )
    events: list[Event] = [
        RunStarted("plan", "prod"),
        Connected(SERVER, "prod-admin", insecure),
        RunFinished("prod", None, "a" * 40, None),
    ]
    for event in events:
        sink.handle(event)
    sink.close()
    return out.getvalue(), err.getvalue(), summary.read_text() if summary.exists() else ""


@pytest.mark.parametrize("insecure", [False, True])
def test_text_names_the_cluster_and_warns_once(insecure: bool, tmp_path: Path) -> None:
    _, err, _ = run("text", insecure, tmp_path)
    assert f"cluster: {SERVER} (context prod-admin)" in err
    assert err.count("TLS verification is off") == (1 if insecure else 0)


def test_json_carries_the_cluster_and_the_warning(tmp_path: Path) -> None:
    out, _, _ = run("json", True, tmp_path)
    document = json.loads(out)
    assert document["cluster"] == {"server": SERVER, "context": "prod-admin", "insecure": True}
    [warning] = document["warnings"]
    assert "TLS verification is off for https://10.0.0.1:6443" in warning


def test_json_of_a_verified_cluster_has_no_warning(tmp_path: Path) -> None:
    document = json.loads(run("json", False, tmp_path)[0])
    assert document["cluster"]["insecure"] is False and document["warnings"] == []


def test_github_gets_one_warning_annotation_and_the_summary_names_the_cluster(tmp_path: Path) -> None:
    out, _, summary = run("github", True, tmp_path)
    warnings = [line for line in out.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1 and "title=TLS verification is off::" in warnings[0], out
    assert "Cluster: `https://10.0.0.1:6443` (context `prod-admin`)" in summary
    assert "**Warning:** TLS verification is off" in summary


def test_connect_reports_an_insecure_kubeconfig_and_its_context(tmp_path: Path) -> None:
    """No request is sent: what `connect` read from the kubeconfig is enough to warn."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": SERVER, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "prod-admin", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "prod-admin",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    cluster = kube.connect(str(path), None, cache_dir=tmp_path / "cache")
    try:
        assert (cluster.server, cluster.context, cluster.insecure) == (SERVER, "prod-admin", True)
    finally:
        cluster.close()
    config["clusters"] = [{"name": "c", "cluster": {"server": SERVER}}]
    path.write_text(yaml.safe_dump(config))
    cluster = kube.connect(str(path), "prod-admin", cache_dir=tmp_path / "cache")
    try:
        assert (cluster.context, cluster.insecure) == ("prod-admin", False)
    finally:
        cluster.close()
