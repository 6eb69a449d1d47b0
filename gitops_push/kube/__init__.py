"""The only package that imports `kubernetes`: connection, discovery, requests, errors, health.

Stages build on `Cluster` and `Resource`, never on the client library. The client is imported only
when a cluster is actually touched (`connect`, or the name `Cluster` at run time), which keeps its
import cost off `--help` and `plan --offline`, and gives stage tests one seam to fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitops_push.kube.errors import KubeApiError
from gitops_push.kube.resource import FIELD_MANAGER, Resource

if TYPE_CHECKING:
    from gitops_push.kube.client import Cluster, connect

__all__ = ["FIELD_MANAGER", "Cluster", "KubeApiError", "Resource", "connect"]


def __getattr__(name: str) -> Any:
    if name in ("Cluster", "connect"):
        from gitops_push.kube import client

        return getattr(client, name)
    raise AttributeError(name)
