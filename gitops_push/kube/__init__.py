"""The only package that imports `kubernetes`: connection, discovery, requests, errors, health.

Stages build on `Cluster` and `Resource`, never on the client library, which keeps the client's
import cost off commands that touch no cluster and gives stage tests one seam to fake.
"""

from gitops_push.kube.client import FIELD_MANAGER, Cluster, Resource, connect
from gitops_push.kube.errors import KubeApiError

__all__ = ["FIELD_MANAGER", "Cluster", "KubeApiError", "Resource", "connect"]
