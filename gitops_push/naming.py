"""The names of what gitops-push keeps in a cluster and in Git for one environment, in one place.

The ApplySet parent (the cluster's record of the environment) and the deploy Lease live side by side
in one namespace; the deploy tags live under a prefix. Every module that reads or writes them asks here.
"""

from __future__ import annotations

RECORD_NAMESPACE = "default"  # the ApplySet parent and the Lease, for every environment


def applyset_parent(environment: str) -> str:
    """The ConfigMap that records the environment (KEP-3659 ApplySet parent)."""
    return f"gitops-push-{environment}"


def lease(environment: str) -> str:
    """The coordination.k8s.io Lease that locks the environment while a deploy runs."""
    return f"gitops-push-{environment}"


def tag_prefix(environment: str) -> str:
    """The default prefix of the environment's deploy tags."""
    return f"deployed/{environment}"


def field_manager(environment: str) -> str:
    """The server-side apply field manager of the environment: fields it sets are its own, so two
    environments never silently share (or fight over) an object's fields."""
    return f"gitops-push-{environment}"
