"""Secret values never appear anywhere: unique values are planted, every output of every command is
scanned (text at every verbosity, JSON, GitHub annotations and summary, JUnit, tag messages)."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.workspace import Result, Workspace, namespace_manifest, unique

pytestmark = pytest.mark.e2e


def secret(ns: str, name: str, plain: str, encoded: str, extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\n"
        f"stringData: {{token: {plain}}}\ndata: {{key: {encoded}}}\n{extra}"
    )


def test_planted_secret_values_appear_in_no_output(workspace: Workspace, tmp_path: Path) -> None:
    ns = unique("secrets")
    plain = f"plain-{uuid.uuid4().hex}"
    raw = f"raw-{uuid.uuid4().hex}"
    encoded = base64.b64encode(raw.encode()).decode()
    planted = [plain, raw, encoded, base64.b64encode(plain.encode()).decode()]
    summary = tmp_path / "summary.md"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    outputs: list[Result] = []
    reports: list[Path] = []

    def run(*args: str, **kwargs: dict[str, str]) -> Result:
        report = tmp_path / f"junit-{len(reports)}.xml"
        reports.append(report)
        result = workspace.cli(*args, "--junit", str(report), **kwargs)  # type: ignore[arg-type]
        outputs.append(result)
        return result

    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/secret.yaml", secret(ns, "creds", plain, encoded))
    workspace.commit("a secret")
    run("plan", "--path", "k8s", "-v")
    run("plan", "--path", "k8s", "-o", "json")
    assert run("deploy", "--path", "k8s", "--diff", "-v").exit_code == 0

    # Changed values: diffs say "(hidden, changed)", never the values.
    plain2, raw2 = plain + "-2", raw + "-2"
    planted += [plain2, raw2, base64.b64encode(raw2.encode()).decode()]
    workspace.write("k8s/secret.yaml", secret(ns, "creds", plain2, base64.b64encode(raw2.encode()).decode()))
    workspace.commit("rotate")
    changed = run("plan", "--path", "k8s")
    assert "(hidden, changed)" in changed.stdout
    run("plan", "--path", "k8s", "-o", "github", env=github)
    assert run("deploy", "--path", "k8s", "--diff", "-o", "json").exit_code == 0

    # Rejections: the server answers about a Secret that the schema accepts but the server refuses.
    bad_value = f"not-base64-{uuid.uuid4().hex}!"
    planted.append(bad_value)
    workspace.write("k8s/broken.yaml", secret(ns, "broken", plain, "AAAA", extra="type: kubernetes.io/tls\n"))
    workspace.commit("a TLS secret without its keys: the server refuses it")
    rejected = run("deploy", "--path", "k8s", "-v", env=github)
    assert rejected.exit_code == 4, rejected.stdout + rejected.stderr
    workspace.write(
        "k8s/invalid.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: invalid, namespace: {ns}}}\ndata: {{key: '{bad_value}'}}\n",
    )
    workspace.commit("a secret whose data is not base64")
    invalid = run("deploy", "--path", "k8s", "-o", "json")
    assert invalid.exit_code == 3, invalid.stdout + invalid.stderr
    workspace.git("rm", "-q", "k8s/broken.yaml", "k8s/invalid.yaml")
    workspace.commit("remove the broken ones")
    assert run("deploy", "--path", "k8s").exit_code == 0

    # Drift, history, rollback.
    run("status", "--path", "k8s", "-v")
    run("status", "--path", "k8s", "-o", "json")
    outputs.append(workspace.cli("history", "--env", workspace.env, "-o", "json"))
    assert run("rollback", "--path", "k8s", "--diff", "-v").exit_code == 0

    texts = [r.stdout + r.stderr for r in outputs]
    texts += [report.read_text() for report in reports if report.exists()]
    texts.append(summary.read_text())
    texts += [
        workspace.git("for-each-ref", "--format=%(contents)", f"refs/tags/{tag}") for tag in workspace.tags()
    ]
    assert len(texts) > 15
    for value in planted:
        leaks = [text for text in texts if value in text]
        assert not leaks, f"{value!r} leaked into: {leaks[0][:500]}"


def test_kubeconfig_credentials_are_never_printed(workspace: Workspace, tmp_path: Path) -> None:
    token = f"token-{uuid.uuid4().hex}"
    config = json.loads(workspace.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    refused = tmp_path / "refused.kubeconfig"
    refused.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "c",
                "clusters": [
                    {"name": "c", "cluster": {**config["clusters"][0]["cluster"], "server": server}}
                ],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    broken = tmp_path / "broken.kubeconfig"
    broken.write_text(
        f"apiVersion: v1\nusers: [{{name: u, user: {{token: {token}}}}}]\ncurrent-context: nowhere\n"
    )
    workspace.write("k8s/ns.yaml", namespace_manifest(unique("creds")))
    workspace.commit()

    outputs = [
        workspace.cli("deploy", "--path", "k8s", "-v", kubeconfig=refused),
        workspace.cli("plan", "--path", "k8s", "-o", "json", kubeconfig=refused),
        workspace.cli("deploy", "--path", "k8s", kubeconfig=broken),
    ]

    assert [r.exit_code for r in outputs] != [0, 0, 0]
    assert "Unauthorized" in outputs[0].stdout + outputs[0].stderr or "credentials" in outputs[0].stderr
    for result in outputs:
        assert token not in result.stdout + result.stderr


def test_secrets_known_only_from_the_cluster_are_masked_at_every_verbosity(workspace: Workspace) -> None:
    # Members read back from a LIST have no kind or apiVersion in their body: masking must follow the
    # object's reference, or `status -v` and full-set deploys show a pruned Secret's data in a diff.
    ns = unique("listed")
    raw = f"raw-{uuid.uuid4().hex}"
    encoded = base64.b64encode(raw.encode()).decode()
    planted = [raw, encoded]
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write("k8s/keep.yaml", secret(ns, "keep", "kept-token", base64.b64encode(b"kept").decode()))
    workspace.write("k8s/gone.yaml", secret(ns, "gone", f"p-{raw}", encoded))
    workspace.commit()
    assert workspace.cli("deploy", "--path", "k8s").exit_code == 0
    workspace.git("rm", "-q", "k8s/gone.yaml")
    workspace.commit("the Secret leaves Git")
    assert workspace.cli("deploy", "--path", "k8s", "--no-prune").exit_code == 0  # still a member

    results = [
        workspace.cli("status", "--path", "k8s", "-v"),
        workspace.cli("status", "--path", "k8s", "-vv", "-o", "json"),
        workspace.cli("plan", "--path", "k8s", "--all", "-v"),
        workspace.cli("deploy", "--path", "k8s", "--all", "--diff", "-v"),
    ]

    assert [r.exit_code for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert "Secret" in results[0].stdout and "gone" in results[0].stdout  # it is shown, masked
    for result in results:
        for value in planted:
            assert value not in result.stdout + result.stderr
