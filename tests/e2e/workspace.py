"""Helpers for e2e tests: a real Git repository in tmp_path and the CLI run in-process against it."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gitops_push.cli import main
from gitops_push.kube import Cluster, Resource
from gitops_push.kube.client import KubeCluster

CONFIG_MAPS = Resource(group="", version="v1", kind="ConfigMap", plural="configmaps", namespaced=True)
SECRETS = Resource(group="", version="v1", kind="Secret", plural="secrets", namespaced=True)
NAMESPACES = Resource(group="", version="v1", kind="Namespace", plural="namespaces", namespaced=False)
DEPLOYMENTS = Resource(group="apps", version="v1", kind="Deployment", plural="deployments", namespaced=True)
SERVICES = Resource(group="", version="v1", kind="Service", plural="services", namespaced=True)
POLICIES = Resource(
    "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False
)
BINDINGS = Resource(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingAdmissionPolicyBinding",
    "validatingadmissionpolicybindings",
    False,
)
SETUP = "e2e-setup"  # the field manager of what the tests set up by hand


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def json_list(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(self.stdout)
        return data

    def actions(self) -> dict[str, str]:
        """'Kind ns/name' -> action, from the JSON output."""
        return {
            f"{o['kind']} {o['namespace'] + '/' if o['namespace'] else ''}{o['name']}": o["action"]
            for o in self.json["objects"]
        }


@dataclass
class Workspace:
    """A Git repository of manifests and one environment of the devcluster to deploy it to."""

    root: Path
    kubeconfig: Path
    env: str = field(default_factory=lambda: unique("env"))

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))

    def copy(self, source: Path, path: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tags(self) -> list[str]:
        out = self.git("tag", "--list", f"deployed/{self.env}/*", "--sort=-refname", "--sort=-creatordate")
        return out.splitlines() if out else []

    def tag_metadata(self, tag: str) -> dict[str, Any]:
        message = self.git("for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
        data: dict[str, Any] = json.loads(message.split("\n", 2)[2])
        return data

    def cli(self, *args: str, kubeconfig: Path | None = None, env: Mapping[str, str] | None = None) -> Result:
        """Run `gitops-push ARGS` in-process with --env and --kubeconfig of this workspace."""
        argv = [*args, "--repo", str(self.root)]
        if args and args[0] in ("plan", "deploy", "rollback", "status", "drift") and "--env" not in args:
            argv += ["--env", self.env]
        if args and args[0] in ("plan", "deploy", "rollback", "status", "drift") and "--offline" not in args:
            argv += ["--kubeconfig", str(kubeconfig or self.kubeconfig)]
        result = CliRunner().invoke(main, argv, env=dict(env or {}), catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)


def make_workspace(tmp_path: Path, kubeconfig: Path) -> Workspace:
    root = tmp_path / "repo"
    root.mkdir()
    workspace = Workspace(root=root, kubeconfig=kubeconfig)
    workspace.git("init", "-q", "-b", "main")
    return workspace


def config_map(namespace: str, name: str, data: Mapping[str, str]) -> str:
    lines = "".join(f"\n  {key}: {json.dumps(value)}" for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:{lines}\n"


def namespace_manifest(name: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"


def live(kube: Cluster, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
    return kube.get(resource, namespace, name)


def bad_deployment(namespace: str) -> str:
    """A Deployment with an unknown field, `replicaz`, on line 7: a validation error with a known place."""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
  namespace: {namespace}
spec:
  replicaz: 2
  selector: {{matchLabels: {{app: bad}}}}
  template:
    metadata: {{labels: {{app: bad}}}}
    spec: {{containers: [{{name: bad, image: bad:1}}]}}
"""


def edit_by_hand(
    kube: KubeCluster,
    resource: Resource,
    namespace: str,
    name: str,
    fields: Mapping[str, Any],
    *,
    manager: str = "hand-editor",
    force: bool = True,
) -> None:
    """Someone else's server-side apply of `fields` onto an object: `kubectl apply --server-side` by a
    person or a controller, under its own field manager (taking the fields over when `force`)."""
    query = [("fieldManager", manager)] + ([("force", "true")] if force else [])
    body = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {"name": name, "namespace": namespace},
        **fields,
    }
    if "metadata" in fields:
        body["metadata"] = {**fields["metadata"], "name": name, "namespace": namespace}
    kube.request(
        "PATCH",
        resource.path(namespace, name),
        query=query,
        body=body,
        content_type="application/apply-patch+yaml",
    )


def admission_policy(
    kube: Cluster,
    name: str,
    *,
    plural: str,
    validation: Mapping[str, str],
    match: Mapping[str, Any] | None = None,
    bind: Mapping[str, Any] | None = None,
) -> None:
    """A ValidatingAdmissionPolicy `name` denying CREATE and UPDATE of core `plural` that fail
    `validation` (a CEL expression and its message), with its binding. `match` adds to the policy's
    matchConstraints, `bind` to the binding's spec. Remove it with remove_admission_policy."""
    rule = {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"],
        "resources": [plural],
    }
    kube.apply(
        POLICIES,
        {
            "apiVersion": POLICIES.api_version,
            "kind": POLICIES.kind,
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [rule], **(match or {})},
                "validations": [dict(validation)],
            },
        },
        field_manager=SETUP,
        dry_run=False,
    )
    kube.apply(
        BINDINGS,
        {
            "apiVersion": BINDINGS.api_version,
            "kind": BINDINGS.kind,
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"], **(bind or {})},
        },
        field_manager=SETUP,
        dry_run=False,
    )


def remove_admission_policy(kube: Cluster, name: str) -> None:
    kube.delete(BINDINGS, None, name)
    kube.delete(POLICIES, None, name)
