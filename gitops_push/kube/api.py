"""The Cluster protocol: everything the stages may ask of a Kubernetes API server.

`kube.client.KubeCluster` implements it over HTTPS with the official client; unit tests implement it in
memory (`tests/unit/fakecluster.py`). Stages depend on this protocol only, never on the client library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gitops_push.kube.resource import Resource


class Cluster(Protocol):
    server: str
    context: str  # the kubeconfig context used (or that the service account of the pod was)
    insecure: bool  # TLS verification is off
    request_timeout: tuple[float, float]
    retry_budget: float  # seconds, all attempts of one request on 429 and 5xx answers
    unreachable_timeout: float  # seconds without any answer, for the whole run

    def version(self) -> str: ...

    def round_trip(self) -> float | None:
        """Seconds of the fastest answer so far (about one network round trip); None before any."""

    def resource(self, api_version: str, kind: str) -> Resource | None:
        """How the cluster serves a kind at an apiVersion; None when it has no such kind."""

    def resource_for_group_kind(self, group: str, kind: str) -> Resource | None:
        """Like `resource()`, at the group's preferred version."""

    def forget_discovery(self) -> None:
        """Forget what discovery learnt of custom group-versions (after CRDs were applied)."""

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def apply(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        *,
        field_manager: str,
        dry_run: bool,
        force: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply as `field_manager` (one per environment: `naming.field_manager`)."""

    def patch_json(
        self, resource: Resource, namespace: str | None, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A JSON patch; used to hand a field manager's entry to another name (migration)."""

    def create(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def replace(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def delete(
        self, resource: Resource, namespace: str | None, name: str, *, resource_version: str | None = None
    ) -> bool:
        """False when the object was already gone."""

    def list(
        self,
        resource: Resource,
        *,
        label_selector: str = "",
        field_selector: str = "",
        namespace: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def openapi_index(self) -> dict[str, str]:
        """Where each group-version's OpenAPI v3 document is; asked once per run."""

    def openapi_document(self, relative_url: str) -> dict[str, Any]: ...

    def close(self) -> None: ...
