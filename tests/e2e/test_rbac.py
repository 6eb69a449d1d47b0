"""The RBAC examples of docs/rbac.md against the real API server: enough to deploy, and no more.

docs/rbac.yaml is applied as it is written and `gitops-ci` (the devcluster's unprivileged user) deploys,
prunes and checks drift with it. The namespaced variant and the failures use identities minted for one
test from the devcluster's CA, so no test depends on what another one bound.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gitops_push.kube.client import KubeCluster
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import DevCluster
from tests.e2e.workspace import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    NAMESPACES,
    Workspace,
    config_map,
    namespace_manifest,
    unique,
)

pytestmark = pytest.mark.e2e
SETUP = "e2e-setup"  # the field manager of what the tests set up by hand

DOCS = REPO_ROOT / "docs"
CI_USER = "gitops-ci"  # the CN of the devcluster's unprivileged client certificate
STATE_NAMESPACE = "default"  # the ApplySet parent ConfigMap and the deploy lock Lease live here
REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
FORBIDDEN = re.compile(
    r'is forbidden: User "(?P<user>[^"]+)" cannot (?P<verb>\w+) resource "(?P<resource>[\w.]+)"'
    r' in API group "(?P<group>[^"]*)"'
)

Document = dict[str, Any]


# --- helpers -----------------------------------------------------------------------------------------


def load(path: Path) -> list[Document]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def apply_all(kube: KubeCluster, documents: list[Document]) -> None:
    for document in documents:
        resource = kube.resource(document["apiVersion"], document["kind"])
        assert resource is not None, document["kind"]
        kube.apply(resource, document, field_manager=SETUP, dry_run=False, force=True)


def delete_all(kube: KubeCluster, documents: list[Document]) -> None:
    for document in reversed(documents):
        resource = kube.resource(document["apiVersion"], document["kind"])
        assert resource is not None, document["kind"]
        metadata = document["metadata"]
        kube.delete(resource, metadata.get("namespace"), metadata["name"])


def allowed(
    kube: KubeCluster, user: str, verb: str, resource: str, *, group: str = "", namespace: str | None = None
) -> bool:
    """The API server's own authorizer, asked through a SubjectAccessReview (as cluster admin)."""
    attributes = {"verb": verb, "group": group, "resource": resource}
    if namespace:
        attributes["namespace"] = namespace
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["system:authenticated"], "resourceAttributes": attributes},
    }
    answer = kube.request("POST", REVIEWS, body=review)
    return bool(answer["status"].get("allowed"))


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """RBAC changes reach the authorizer's cache within moments, not at once."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def granted(documents: list[Document]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) triples the roles of an RBAC example grant."""
    triples = set()
    for document in documents:
        for rule in document.get("rules") or []:
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    triples |= {(verb, group, resource) for verb in rule["verbs"]}
    return triples


def mint_identity(cluster: DevCluster, user: str, directory: Path) -> Path:
    """A kubeconfig for a new user signed by the devcluster's CA: an identity that no binding names."""
    pki = cluster.state / "pki"
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    config = yaml.safe_load(cluster.unprivileged_kubeconfig.read_text())
    for entry in config["users"]:
        entry["user"] = {
            "client-certificate-data": base64.b64encode(
                cert.public_bytes(serialization.Encoding.PEM)
            ).decode(),
            "client-key-data": base64.b64encode(key_pem).decode(),
        }
    path = directory / f"{user}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def namespaced_example(namespace: str, environment: str, user: str) -> list[Document]:
    """docs/rbac-namespaced.yaml with its placeholders (shop, shop-production, gitops-ci) replaced."""
    documents = load(DOCS / "rbac-namespaced.yaml")
    for document in documents:
        metadata = document["metadata"]
        if metadata["namespace"] == "shop":
            metadata["namespace"] = namespace
        metadata["name"] = metadata["name"].replace("shop-production", environment)
        if document["kind"] == "RoleBinding":
            document["roleRef"]["name"] = document["roleRef"]["name"].replace("shop-production", environment)
            document["subjects"] = [{**s, "name": user} for s in document["subjects"]]
        for rule in document.get("rules") or []:
            if "resourceNames" in rule:
                rule["resourceNames"] = [
                    n.replace("shop-production", environment) for n in rule["resourceNames"]
                ]
    return documents


def deployment(namespace: str, name: str, image: str = "web:1") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: {image}
"""


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def deployer_rbac(kube: KubeCluster) -> Iterator[list[Document]]:
    """docs/rbac.yaml applied as written (it binds gitops-ci), and removed again afterwards."""
    documents = load(DOCS / "rbac.yaml")
    apply_all(kube, documents)
    wait_until(
        lambda: (
            allowed(kube, CI_USER, "create", "leases", group="coordination.k8s.io", namespace="default")
            and allowed(kube, CI_USER, "patch", "deployments", group="apps", namespace="any")
        ),
        "the bindings of docs/rbac.yaml take effect",
    )
    yield documents
    delete_all(kube, documents)
    wait_until(
        lambda: not allowed(kube, CI_USER, "get", "configmaps", namespace="default"),
        "gitops-ci is unprivileged again",
    )


# --- tests -------------------------------------------------------------------------------------------


def test_the_cluster_wide_example_is_enough_to_deploy_prune_and_check_drift(
    workspace: Workspace, kube: KubeCluster, cluster: DevCluster, deployer_rbac: list[Document]
) -> None:
    ns = unique("rbac")
    workspace.write("k8s/namespace.yaml", namespace_manifest(ns))
    workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "blue"}))
    workspace.write("k8s/extra.yaml", config_map(ns, "extra", {"retired": "soon"}))
    workspace.write("k8s/web.yaml", deployment(ns, "web"))
    workspace.commit("namespace, config and a deployment")
    as_ci = cluster.unprivileged_kubeconfig

    first = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=as_ci)

    assert first.exit_code == 0, first.stdout + first.stderr
    assert first.json["counts"]["created"] == 4
    assert kube.get(NAMESPACES, None, ns) is not None
    assert kube.get(DEPLOYMENTS, ns, "web") is not None

    (workspace.root / "k8s/extra.yaml").unlink()
    workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "green"}))
    workspace.commit("retire extra, change settings")
    second = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=as_ci)

    assert second.exit_code == 0, second.stdout + second.stderr
    assert second.actions()[f"ConfigMap {ns}/extra"] == "pruned"
    assert second.actions()[f"ConfigMap {ns}/settings"] == "configured"
    assert kube.get(CONFIG_MAPS, ns, "extra") is None
    assert len(workspace.tags()) == 2

    drift = workspace.cli("status", "--path", "k8s", "--exit-code", "-o", "json", kubeconfig=as_ci)

    assert drift.exit_code == 0, drift.stdout + drift.stderr
    assert drift.json["result"] == "no-changes"


def test_the_cluster_wide_example_grants_the_lock_and_the_records_but_no_other_leases(
    kube: KubeCluster, deployer_rbac: list[Document]
) -> None:
    # The lock renews its Lease with PUT (update) every few seconds, which a short deploy never reaches.
    for verb in ("get", "create", "update", "delete"):
        assert allowed(kube, CI_USER, verb, "leases", group="coordination.k8s.io", namespace="default"), verb
    for verb in ("get", "create", "patch"):
        assert allowed(kube, CI_USER, verb, "configmaps", namespace=STATE_NAMESPACE), verb
    # Leader election and node heartbeats stay out of reach.
    for namespace in ("kube-system", "kube-node-lease"):
        assert not allowed(
            kube, CI_USER, "update", "leases", group="coordination.k8s.io", namespace=namespace
        )
    # RBAC objects and CRDs are not in the example: deploying them needs more than a deployer's rights.
    assert not allowed(kube, CI_USER, "patch", "clusterroles", group="rbac.authorization.k8s.io")
    assert not allowed(kube, CI_USER, "patch", "customresourcedefinitions", group="apiextensions.k8s.io")


def test_without_bindings_the_deploy_fails_naming_the_missing_permission(
    workspace: Workspace, cluster: DevCluster, tmp_path: Path
) -> None:
    user = unique("nobody")
    kubeconfig = mint_identity(cluster, user, tmp_path)
    ns = unique("denied")
    workspace.write("k8s/namespace.yaml", namespace_manifest(ns))
    workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "blue"}))
    workspace.commit()

    result = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=kubeconfig)

    assert result.exit_code in (1, 4), result.stdout + result.stderr
    problems = [p for p in result.json["errors"] if FORBIDDEN.search(p["message"])]
    assert problems, result.json["errors"]
    found = FORBIDDEN.search(problems[0]["message"])
    assert found is not None
    assert found["user"] == user
    # What is missing is something the example grants: the hint points to the page that has it.
    assert (found["verb"], found["group"], found["resource"]) in granted(load(DOCS / "rbac.yaml"))
    assert "docs/rbac.md" in (problems[0]["hint"] or "")
    assert (DOCS / "rbac.md").is_file()
    assert result.json["tag"] is None and workspace.tags() == []


def test_the_namespaced_example_is_enough_to_deploy_and_prune_in_its_namespace(
    workspace: Workspace, kube: KubeCluster, cluster: DevCluster, tmp_path: Path
) -> None:
    user, ns = unique("team"), unique("team-ns")
    kubeconfig = mint_identity(cluster, user, tmp_path)
    kube.apply(
        NAMESPACES,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        field_manager=SETUP,
        dry_run=False,
    )
    documents = namespaced_example(ns, workspace.env, user)
    apply_all(kube, documents)
    try:
        wait_until(
            lambda: allowed(kube, user, "patch", "deployments", group="apps", namespace=ns), "bindings"
        )
        assert not allowed(kube, user, "get", "configmaps", namespace="kube-system")
        workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "blue"}))
        workspace.write("k8s/extra.yaml", config_map(ns, "extra", {"retired": "soon"}))
        workspace.write("k8s/web.yaml", deployment(ns, "web"))
        workspace.commit()

        first = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=kubeconfig)

        assert first.exit_code == 0, first.stdout + first.stderr
        assert first.json["counts"]["created"] == 3

        (workspace.root / "k8s/extra.yaml").unlink()
        workspace.commit("retire extra")
        second = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=kubeconfig)

        assert second.exit_code == 0, second.stdout + second.stderr
        assert second.actions()[f"ConfigMap {ns}/extra"] == "pruned"
        assert kube.get(CONFIG_MAPS, ns, "extra") is None
    finally:
        delete_all(kube, documents)


def test_a_namespaced_identity_is_refused_by_the_dry_run_outside_its_namespace(
    workspace: Workspace, kube: KubeCluster, cluster: DevCluster, tmp_path: Path
) -> None:
    user, ns, elsewhere = unique("team"), unique("team-ns"), unique("not-theirs")
    kubeconfig = mint_identity(cluster, user, tmp_path)
    for name in (ns, elsewhere):
        kube.apply(
            NAMESPACES,
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            field_manager=SETUP,
            dry_run=False,
        )
    documents = namespaced_example(ns, workspace.env, user)
    apply_all(kube, documents)
    try:
        wait_until(lambda: allowed(kube, user, "patch", "configmaps", namespace=ns), "bindings")
        workspace.write("k8s/settings.yaml", config_map(ns, "settings", {"color": "blue"}))
        workspace.write("k8s/stray.yaml", config_map(elsewhere, "stray", {"oops": "wrong namespace"}))
        workspace.commit()

        result = workspace.cli("deploy", "--path", "k8s", "-o", "json", kubeconfig=kubeconfig)

        assert result.exit_code == 4, result.stdout + result.stderr
        stray = next(o for o in result.json["objects"] if o["name"] == "stray")
        found = FORBIDDEN.search(stray["error"] or "")
        assert found is not None, stray
        assert (found["user"], found["resource"], found["group"]) == (user, "configmaps", "")
        assert f'in the namespace "{elsewhere}"' in stray["error"]
        assert "docs/rbac.md" in stray["error"]
        assert kube.get(CONFIG_MAPS, ns, "settings") is None  # nothing was applied
        assert workspace.tags() == []
    finally:
        delete_all(kube, documents)
