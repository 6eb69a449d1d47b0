"""An in-memory Cluster for unit tests of the runner and the stages: what a real API server cannot be
made to do on demand (fail one apply, refuse one dry-run, keep a Deployment unhealthy).

It follows the protocol in `gitops_push/kube/api.py` and the parts of the API server's behaviour the
stages rely on: namespaced objects need their Namespace, server-side apply records its field manager,
a dry-run stores nothing, POST refuses an existing name, PUT and DELETE honour resourceVersion. It
is not an API server: the e2e tests on the real control plane remain the test of record.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from gitops_push.errors import ClusterUnreachable
from gitops_push.kube import KubeApiError, Resource
from gitops_push.kube.errors import Cause

SCHEMAS = resources.files("gitops_push") / "schemas" / "v1.36"
Key = tuple[str, str, str | None, str]  # group, kind, namespace, name

BUILTIN = [
    Resource("", "v1", "Namespace", "namespaces", False),
    Resource("", "v1", "ConfigMap", "configmaps", True),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "Service", "services", True),
    Resource("", "v1", "Pod", "pods", True),
    Resource("", "v1", "Event", "events", True),
    Resource("apps", "v1", "Deployment", "deployments", True),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True),
    Resource("batch", "v1", "Job", "jobs", True),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
]


def api_error(status: int, reason: str, message: str, *causes: Cause) -> KubeApiError:
    return KubeApiError(status, reason, message, tuple(causes), "PATCH", "/fake")


class FakeCluster:
    """A Cluster that keeps objects in a dict. `requests` counts calls by method name."""

    server = "https://fake.invalid"
    context = "fake"
    insecure = False

    def __init__(self) -> None:
        self.request_timeout: tuple[float, float] = (10.0, 30.0)
        self.retry_budget = 90.0
        self.unreachable_timeout = 30.0
        self.resources: dict[str, dict[str, Resource]] = {}
        for resource in BUILTIN:
            self.add_resource(resource)
        self.objects: dict[Key, dict[str, Any]] = {}
        self.requests: dict[str, int] = {}
        self.failures: dict[
            tuple[str, str], KubeApiError | ClusterUnreachable
        ] = {}  # (method, name) -> the error to raise
        self.on_apply: Callable[[dict[str, Any]], None] = lambda obj: None  # e.g. set a status
        self.closed = False
        self.discovery_lag = 0  # discovery refreshes after a CRD's apply before its kind is served
        self._unserved: list[tuple[Resource, int]] = []  # applied CRDs' kinds, refreshes still to go
        self.latency: float | None = 0.0  # what round_trip() reports: an in-memory cluster answers at once
        self._versions = itertools.count(1)
        self.store({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})

    # --- test set-up ----------------------------------------------------------------------------

    def add_resource(self, resource: Resource) -> None:
        self.resources.setdefault(resource.api_version, {})[resource.kind] = resource

    def fail(self, method: str, name: str, error: KubeApiError | ClusterUnreachable) -> None:
        """The next and every later `method` ('apply', 'dry-run', 'delete', 'get') on `name` fails."""
        self.failures[(method, name)] = error

    def store(self, body: Mapping[str, Any], manager: str = "kubectl") -> dict[str, Any]:
        """Put an object in place as if someone else had created it."""
        obj = copy.deepcopy(dict(body))
        metadata = obj.setdefault("metadata", {})
        metadata["resourceVersion"] = str(next(self._versions))
        metadata.setdefault("uid", f"uid-{metadata['resourceVersion']}")
        metadata.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        metadata.setdefault("managedFields", [{"manager": manager, "operation": "Apply"}])
        self.objects[self._key(obj)] = obj
        return obj

    def live(self, kind: str, namespace: str | None, name: str, group: str = "") -> dict[str, Any] | None:
        return self.objects.get((group, kind, namespace, name))

    # --- the protocol ---------------------------------------------------------------------------

    def version(self) -> str:
        self._count("version")
        return "v1.36.3-fake"

    def round_trip(self) -> float | None:
        return self.latency

    def resource(self, api_version: str, kind: str) -> Resource | None:
        return self.resources.get(api_version, {}).get(kind)

    def resource_for_group_kind(self, group: str, kind: str) -> Resource | None:
        return next(
            (
                r
                for kinds in self.resources.values()
                for r in kinds.values()
                if (r.group, r.kind) == (group, kind)
            ),
            None,
        )

    def forget_discovery(self) -> None:
        self._count("forget_discovery")
        waiting = [(resource, left - 1) for resource, left in self._unserved]
        for resource, left in waiting:
            if left <= 0:
                self.add_resource(resource)
        self._unserved = [(resource, left) for resource, left in waiting if left > 0]

    def _serve_later(self, crd: Mapping[str, Any]) -> None:
        """An applied CRD's kinds appear in discovery after `discovery_lag` refreshes, as on a real
        API server, where Established can come a moment before the kind is served."""
        spec = crd["spec"]
        for version in spec["versions"]:
            resource = Resource(
                spec["group"],
                version["name"],
                spec["names"]["kind"],
                spec["names"]["plural"],
                spec.get("scope", "Namespaced") == "Namespaced",
            )
            self._unserved.append((resource, self.discovery_lag))

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        self._count("get")
        self._maybe_fail("get", name)
        found = self.objects.get(
            (resource.group, resource.kind, namespace if resource.namespaced else None, name)
        )
        return copy.deepcopy(found) if found is not None else None

    def apply(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        *,
        field_manager: str,
        dry_run: bool,
        force: bool = False,
    ) -> dict[str, Any]:
        self._count("dry-run" if dry_run else "apply")
        metadata = body["metadata"]
        self._maybe_fail("dry-run" if dry_run else "apply", metadata["name"])
        namespace = metadata.get("namespace") if resource.namespaced else None
        if namespace and ("", "Namespace", None, namespace) not in self.objects:
            raise api_error(404, "NotFound", f'namespaces "{namespace}" not found')
        live = self.objects.get((resource.group, resource.kind, namespace, metadata["name"]))
        merged = self._merged(live, body, field_manager)
        if dry_run:
            return merged
        merged["metadata"]["resourceVersion"] = str(next(self._versions))
        merged["metadata"].setdefault("uid", f"uid-{merged['metadata']['resourceVersion']}")
        merged["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.on_apply(merged)
        if resource.kind == "CustomResourceDefinition" and live is None:
            self._serve_later(merged)
        self.objects[self._key(merged)] = merged
        return copy.deepcopy(merged)

    def create(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        self._count("create")
        if self._key(body) in self.objects:
            raise api_error(
                409, "AlreadyExists", f'{resource.plural} "{body["metadata"]["name"]}" already exists'
            )
        return copy.deepcopy(self.store(body, manager="lock-holder"))

    def replace(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        self._count("replace")
        live = self.objects.get(self._key(body))
        if live is None or live["metadata"]["resourceVersion"] != body["metadata"].get("resourceVersion"):
            raise api_error(409, "Conflict", "the object has been modified")
        return copy.deepcopy(self.store(body, manager="lock-holder"))

    def patch_json(
        self, resource: Resource, namespace: str | None, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Only what the migration of field managers sends: `test` and `replace` of a manager name."""
        self._count("patch")
        live = self.objects[(resource.group, resource.kind, namespace if resource.namespaced else None, name)]
        for operation in operations:
            *_, index, field = operation["path"].split("/")
            entry = live["metadata"]["managedFields"][int(index)]
            if operation["op"] == "test" and entry.get(field) != operation["value"]:
                raise api_error(422, "Invalid", "the test operation failed")
            if operation["op"] == "replace":
                entry[field] = operation["value"]
        return copy.deepcopy(live)

    def delete(
        self, resource: Resource, namespace: str | None, name: str, *, resource_version: str | None = None
    ) -> bool:
        self._count("delete")
        self._maybe_fail("delete", name)
        key = (resource.group, resource.kind, namespace if resource.namespaced else None, name)
        live = self.objects.get(key)
        if live is None:
            return False
        if resource_version and live["metadata"]["resourceVersion"] != resource_version:
            raise api_error(409, "Conflict", "precondition failed")
        del self.objects[key]
        return True

    def list(
        self,
        resource: Resource,
        *,
        label_selector: str = "",
        field_selector: str = "",
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        self._count("list")
        wanted = dict(pair.split("=", 1) for pair in label_selector.split(",") if pair)
        return [
            copy.deepcopy(obj)
            for (group, kind, ns, _), obj in sorted(self.objects.items(), key=lambda item: str(item[0]))
            if (group, kind) == (resource.group, resource.kind)
            and (namespace is None or ns == namespace)
            and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    def openapi_index(self) -> dict[str, str]:
        """The bundled schemas of the package stand in for the server's OpenAPI v3."""
        return {file.name.removesuffix(".json").replace("__", "/"): file.name for file in SCHEMAS.iterdir()}

    def openapi_document(self, relative_url: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((SCHEMAS / relative_url).read_text(encoding="utf-8"))
        return document

    def close(self) -> None:
        self.closed = True

    # --- plumbing -------------------------------------------------------------------------------

    def _count(self, method: str) -> None:
        self.requests[method] = self.requests.get(method, 0) + 1

    def _maybe_fail(self, method: str, name: str) -> None:
        error = self.failures.get((method, name))
        if error is not None:
            raise error

    def _key(self, body: Mapping[str, Any]) -> Key:
        group = str(body.get("apiVersion", "")).rpartition("/")[0]
        resource = self.resource(str(body.get("apiVersion")), str(body.get("kind")))
        namespace = body["metadata"].get("namespace") if resource is None or resource.namespaced else None
        return group, str(body.get("kind")), namespace, body["metadata"]["name"]

    def _merged(
        self, live: Mapping[str, Any] | None, body: Mapping[str, Any], manager: str
    ) -> dict[str, Any]:
        """Server-side apply, simplified: the applied fields over the live object, the manager recorded."""
        merged = copy.deepcopy(dict(live or {}))
        merged.update(copy.deepcopy({k: v for k, v in body.items() if k != "metadata"}))
        metadata = {**merged.get("metadata", {}), **copy.deepcopy(dict(body["metadata"]))}
        others = [m for m in metadata.get("managedFields") or [] if m.get("manager") != manager]
        metadata["managedFields"] = [*others, {"manager": manager, "operation": "Apply"}]
        if live is not None:
            metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
        merged["metadata"] = metadata
        return merged
