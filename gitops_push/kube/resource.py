"""Resource: how the API serves one kind (REST path pieces and scope). No client import here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

# The one field manager of every environment before each got its own (`naming.field_manager`): objects
# it applied are still ours, and are handed to the environment's manager on their next apply.
LEGACY_FIELD_MANAGER = "gitops-push"


@dataclass(frozen=True)
class Resource:
    """How the API serves one kind: its REST path pieces and its scope."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return f"{base}/{quote(name, safe='')}" if name else base
