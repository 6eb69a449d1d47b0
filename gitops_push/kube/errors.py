"""API errors as data: the Status body parsed into status, reason, message and causes.

The API server echoes request objects in some error messages (an admission policy can put
`object.data` in its message), so the message is kept whole here: `shown()` masks it and only then
cuts it, and for a Secret it shows only the reason and the causes' fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_push import masking
from gitops_push.errors import GitopsPushError


@dataclass(frozen=True)
class Cause:
    field: str
    message: str
    reason: str


class KubeApiError(GitopsPushError):
    reference = "api-error"

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        causes: tuple[Cause, ...],
        method: str,
        path: str,
        retry_after: float | None = None,
    ):
        # `message` is cut for run-level reports, which concern no Secret; `full_message` is for
        # `shown()`, which masks before it cuts.
        super().__init__(masking.cut(message), hint=hint_for(status, reason, message))
        self.full_message = message
        self.retry_after = retry_after
        self.status = status
        self.reason = reason
        self.causes = causes
        self.method = method
        self.path = path

    @property
    def is_conflict(self) -> bool:
        return self.status == 409 and self.reason == "Conflict"

    @property
    def is_immutable(self) -> bool:
        return self.status == 422 and _says_immutable(self.message)

    @property
    def is_namespace_missing(self) -> bool:
        return self.status == 404 and "namespaces" in self.message and "not found" in self.message

    def shown(self, body: Mapping[str, Any] | None, *, secret: bool) -> str:
        """The message to report about the object `body`: masked, then cut.

        For a Secret, the server's own words are withheld: a policy or webhook can quote any part of
        the object in any encoding, so only the status reason and the fields of the causes remain."""
        if not secret:
            return masking.cut(self.full_message)
        fields = sorted({c.field for c in self.causes if c.field})
        text = f"the server refused this Secret ({self.status} {self.reason or 'error'})"
        if fields:
            text += f" over {', '.join(fields)}"
        text += "; its message is not shown because it can echo the Secret's values"
        return masking.redact(text, masking.secret_values([body]))


def from_api_exception(
    status: int, body: Any, method: str, path: str, headers: Mapping[str, str] | None = None
) -> KubeApiError:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {"message": str(body)}
    if not isinstance(parsed, dict):
        parsed = {"message": str(parsed)}
    details = parsed.get("details") or {}
    causes = tuple(
        Cause(field=c.get("field", ""), message=c.get("message", ""), reason=c.get("reason", ""))
        for c in details.get("causes") or []
    )
    message = str(parsed.get("message") or f"HTTP {status}")
    if status == 422 and causes:
        # "X is invalid: spec.template: Invalid value: {…the whole value…}: field is immutable" can be
        # huge and may echo data: say which fields and why, from the causes, without their values.
        name = f"{(details.get('kind') or 'object')} {details.get('name') or ''}".strip()
        message = f"{name} is invalid: " + "; ".join(f"{c.field}: {_reason_only(c.message)}" for c in causes)
    return KubeApiError(
        status, str(parsed.get("reason") or ""), message, causes, method, path, _retry_after(headers)
    )


IMMUTABLE_PHRASES = ("immutable", "may not change once set", "cannot be changed", "is not allowed to change")


def _says_immutable(message: str) -> bool:
    return any(phrase in message for phrase in IMMUTABLE_PHRASES)


def _reason_only(message: str) -> str:
    """'Invalid value: "x": must be no more than 63 characters' -> 'must be no more than 63 characters'."""
    if message.startswith("Invalid value: "):
        return message.rsplit(": ", 1)[-1]
    return message


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (the API server sends whole seconds)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def hint_for(status: int, reason: str, message: str) -> str | None:
    # Hints name the command that has the flag: `plan` and `status` have no --force-conflicts or
    # --replace-immutable, and a hint at a flag the command rejects sent people to a usage error.
    if status == 401:
        return "the credentials were refused: check the kubeconfig's user"
    if status == 403:
        return "the deploy identity lacks RBAC permission for this (see docs/rbac.md)"
    if status == 409 and reason == "Conflict":
        return "another field manager owns these fields; a deploy with --force-conflicts takes them over"
    if status == 422 and _says_immutable(message):
        return "this field cannot change in place: the object must be replaced (a deploy with --replace-immutable deletes and recreates it)"
    if "no matches for kind" in message:
        return "is the CRD applied?"
    return None
