"""The only package that imports `kubernetes`: connection, discovery, requests, errors, health.

Stages build on the `Cluster` protocol and `Resource`, never on the client library. The client is
imported only when a cluster is actually touched (`connect`), which keeps its import cost off `--help`
and `plan --offline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitops_push.kube.api import Cluster
from gitops_push.kube.errors import KubeApiError
from gitops_push.kube.resource import LEGACY_FIELD_MANAGER, Resource

if TYPE_CHECKING:
    from gitops_push.kube.client import connect

__all__ = ["LEGACY_FIELD_MANAGER", "Cluster", "KubeApiError", "Resource", "connect"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        from gitops_push.kube import client

        return client.connect
    raise AttributeError(name)
