"""Real input, deployed for real: a project's published manifest, issue 13's values, and mutations.

- ingress-nginx's deploy.yaml (tests/fixtures/ingress-nginx): RBAC, an admission webhook and the
  Jobs that create its certificate, in one file, deployed end to end.
- The values of issue 13's table in a ConfigMap: the cluster holds what kubectl would have sent
  (the strings stay strings), and `y`/`1e3` are refused by validation before anything is applied.
- A few dozen mutations of a manifest set, each deployed: never a traceback, always a documented
  exit code (the offline fuzz test, tests/unit/test_fuzz_manifests.py, covers many more).
"""

from __future__ import annotations

import random

import pytest

from gitops_push.errors import ExitCode
from gitops_push.kube import Cluster, Resource
from tests.conftest import FIXTURES
from tests.e2e.workspace import CONFIG_MAPS, NAMESPACES, Workspace, namespace_manifest, unique
from tests.fuzzing import mutate

pytestmark = pytest.mark.e2e

WEBHOOKS = Resource(
    group="admissionregistration.k8s.io",
    version="v1",
    kind="ValidatingWebhookConfiguration",
    plural="validatingwebhookconfigurations",
    namespaced=False,
)


def test_ingress_nginx_deploys_end_to_end(workspace: Workspace, kube: Cluster) -> None:
    workspace.copy(FIXTURES / "ingress-nginx" / "deploy.yaml", "k8s/ingress-nginx.yaml")
    head = workspace.commit("ingress-nginx")

    result = workspace.cli("deploy", "--path", "k8s", "--timeout", "120s", "-o", "json")

    assert result.exit_code == 0, result.stdout + result.stderr
    document = result.json
    assert (document["result"], document["to"]) == ("deployed", head)
    assert len(document["objects"]) == 19
    assert {o["action"] for o in document["objects"]} == {"created"}
    assert kube.get(NAMESPACES, None, "ingress-nginx") is not None
    assert kube.get(WEBHOOKS, None, "ingress-nginx-admission") is not None
    # The certificate Jobs ran; with ttlSecondsAfterFinished: 0 they may be gone already (a success).
    jobs = {o["name"]: o["action"] for o in document["objects"] if o["kind"] == "Job"}
    assert jobs == {"ingress-nginx-admission-create": "created", "ingress-nginx-admission-patch": "created"}
    assert workspace.tags() == [document["tag"]]


ISSUE_VALUES = {
    "when": ("2024-01-01", "2024-01-01"),
    "at": ("2001-12-14T21:59:43.10-05:00", "2001-12-14T21:59:43.10-05:00"),
    "binary": ("!!binary aGVsbG8=", "hello"),
    "time": ("12:30", "12:30"),
    "op": ("=", "="),
}


def test_issue_values_reach_the_cluster_as_kubectl_sends_them(workspace: Workspace, kube: Cluster) -> None:
    ns = unique("values")
    lines = "".join(f"  {key}: {written}\n" for key, (written, _) in ISSUE_VALUES.items())
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/cm.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\n  namespace: {ns}\ndata:\n{lines}",
    )
    workspace.commit("values")

    result = workspace.cli("deploy", "--path", "k8s")

    assert result.exit_code == 0, result.stdout + result.stderr
    live = kube.get(CONFIG_MAPS, ns, "values")
    assert live is not None
    assert live["data"] == {key: sent for key, (_, sent) in ISSUE_VALUES.items()}


@pytest.mark.parametrize(("value", "words"), [("y", "boolean"), ("1e3", "integer"), ("0o17", "integer")])
def test_a_value_kubectl_reads_as_no_string_is_refused_before_anything_is_applied(
    workspace: Workspace, kube: Cluster, value: str, words: str
) -> None:
    ns = unique("typed")
    workspace.write("k8s/ns.yaml", namespace_manifest(ns))
    workspace.write(
        "k8s/cm.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: {ns}\ndata:\n  k: {value}\n",
    )
    workspace.commit("typed")

    result = workspace.cli("deploy", "--path", "k8s")

    assert result.exit_code == ExitCode.INVALID, result.stdout + result.stderr
    assert "k8s/cm.yaml" in result.stdout + result.stderr
    assert words in (result.stdout + result.stderr)
    assert kube.get(NAMESPACES, None, ns) is None


DEPLOY_EXIT_CODES = {ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.INVALID, ExitCode.REJECTED}


def test_deploy_survives_mutated_manifests(workspace: Workspace) -> None:
    ns = unique("fuzz")
    # Objects without a namespace land in `ns` (--namespace): every mutant deploys into its own place.
    base = namespace_manifest(ns) + "---\n" + (FIXTURES / "microservices-demo" / "frontend.yaml").read_text()
    rng = random.Random(7)
    failures = []
    for number in range(30):
        data = mutate(base.encode(), rng)
        (workspace.root / "k8s").mkdir(exist_ok=True)
        (workspace.root / "k8s" / "app.yaml").write_bytes(data)
        workspace.commit(f"mutant {number}")
        result = workspace.cli("deploy", "--path", "k8s", "--namespace", ns, "--timeout", "20s")
        output = result.stdout + result.stderr
        if "Traceback" in output or result.exit_code not in DEPLOY_EXIT_CODES:
            failures.append(f"mutant {number}: exit {result.exit_code} {output[-400:]!r}")
    assert failures == []
