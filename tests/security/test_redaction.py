"""Issue 14.2: a Secret value never survives a server message, whatever its encoding or its length.

Each test plants a unique value in one of the forms a server, a proxy or a traceback writes it in, and
checks that no run of `masking.MIN_RUN` characters of it is left in what a reporter would get.
"""

from __future__ import annotations

import base64
import json
import secrets
import textwrap
from typing import Any

import pytest

from gitops_push import masking
from gitops_push.kube.errors import from_api_exception
from gitops_push.model import Manifest, ObjectRef, SourceLocation
from gitops_push.stages import applying, pruning


def pem_key() -> str:
    """A private key's shape: a 1,600-character base64 body in 64-column lines."""
    body = base64.b64encode(secrets.token_bytes(1200)).decode()
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_body(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls", "namespace": "shop"},
        "data": {key: b64(value) for key, value in data.items()},
    }


def leaks(text: str, value: str) -> list[str]:
    """Every MIN_RUN-character piece of `value` (or of its base64) that `text` still contains."""
    found = []
    for form in (value, b64(value), "".join(value.split())):
        found += [form[i : i + masking.MIN_RUN] for i in range(len(form) - masking.MIN_RUN + 1)]
    return [piece for piece in found if piece in text and piece.strip()]


KEY = pem_key()
BODY_ONLY = "".join(KEY.splitlines()[1:-1])
TOKEN = f"tok-{secrets.token_hex(20)}"


@pytest.mark.parametrize(
    ("form", "planted"),
    [
        ("plain", KEY),
        ("base64", b64(KEY)),
        ("JSON-escaped", json.dumps(KEY)[1:-1]),
        ("JSON-escaped twice", json.dumps(json.dumps(KEY))[1:-1]),
        ("repr-escaped", repr(KEY)[1:-1]),
        ("PEM body without line breaks", BODY_ONLY),
        ("PEM body lines joined by spaces", " ".join(KEY.splitlines()[1:-1])),
        ("one line of the PEM body", KEY.splitlines()[5]),
        ("a cut piece of base64", b64(KEY)[100:117]),
        ("a cut piece of the plain value", KEY[300:700]),
        ("token, plain", TOKEN),
        ("token, base64 without padding", b64(TOKEN).rstrip("=")),
        ("token, URL-safe base64", base64.urlsafe_b64encode(TOKEN.encode()).decode()),
    ],
)
def test_every_form_of_a_value_is_masked(form: str, planted: str) -> None:
    values = masking.secret_values([secret_body(key=KEY, token=TOKEN)])
    message = f"admission webhook denied the request: data was {planted!s} (policy no-keys)"
    shown = masking.redact(message, values, limit=100_000)
    assert planted not in shown, form
    assert not leaks(shown, KEY) and not leaks(shown, TOKEN), form
    # The words around it stay. The last letters before a value may go with it when they happen to end
    # the previous PEM line too (the space-joined form has "…s Hl/Gy…"): a letter over, never one short.
    assert shown.startswith("admission webhook denied the request: data")
    assert shown.endswith("(policy no-keys)")


def test_a_long_message_is_masked_before_it_is_cut() -> None:
    """The issue's leak: the value started before the 2,000th character and ran past it."""
    values = masking.secret_values([secret_body(key=KEY)])
    message = "x" * 1500 + " object.data: " + b64(KEY) + " end"
    shown = masking.redact(message, values)
    assert len(shown) <= masking.MAX_MESSAGE + len(masking.CUT)
    assert not leaks(shown, KEY), shown[1490:]
    assert masking.HIDDEN in shown


def test_the_cut_still_applies_to_messages_without_secrets() -> None:
    shown = masking.redact("y" * 5000, ())
    assert shown == "y" * masking.MAX_MESSAGE + masking.CUT


def test_bytes_that_are_not_text_are_masked_as_python_writes_them() -> None:
    raw = secrets.token_bytes(40) + b"\xff"
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "ks"},
        "data": {"ks": base64.b64encode(raw).decode()},
    }
    shown = masking.redact(f"cannot parse keystore {raw!r}", masking.secret_values([body]))
    assert repr(raw)[2:-1] not in shown
    assert masking.HIDDEN in shown


def test_ordinary_text_is_left_alone() -> None:
    values = masking.secret_values([secret_body(key=KEY, token=TOKEN)])
    message = "secrets \"tls\" is forbidden: ValidatingAdmissionPolicy 'no-keys' denied request"
    assert masking.redact(message, values) == message


# --- API errors about a Secret: only the reason and the causes' fields ----------------------------


def manifest(body: dict[str, Any]) -> Manifest:
    ref = ObjectRef("", "Secret", "shop", "tls")
    return Manifest(ref, "v1", body, SourceLocation("k8s/tls.yaml", 1, 0))


def test_a_rejected_secret_shows_the_reason_and_fields_not_the_message() -> None:
    body = secret_body(key=KEY)
    status = {
        "kind": "Status",
        "status": "Failure",
        "reason": "Invalid",
        "code": 422,
        # The server quotes a value it finds invalid; its own truncation cuts it at an arbitrary point.
        "message": f'Secret "tls" is invalid: data[key]: Invalid value: "{b64(KEY)[:700]}...": bad key',
        "details": {
            "kind": "secrets",
            "name": "tls",
            "causes": [{"field": "data[key]", "reason": "FieldValueInvalid", "message": b64(KEY)[:900]}],
        },
    }
    error = from_api_exception(422, json.dumps(status), "PATCH", "/api/v1/namespaces/shop/secrets/tls")
    shown = applying.describe(error, manifest(body))
    assert not leaks(shown, KEY), shown
    assert "422 Invalid" in shown and "data[key]" in shown, shown


def test_a_forbidden_secret_hides_an_admission_policy_echo() -> None:
    body = secret_body(key=KEY)
    echo = f"ValidatingAdmissionPolicy 'no-keys' with binding 'b' denied request: {json.dumps(body['data'])}"
    error = from_api_exception(403, json.dumps({"reason": "Forbidden", "message": echo}), "PATCH", "/x")
    shown = applying.describe(error, manifest(body))
    assert not leaks(shown, KEY), shown
    assert "403 Forbidden" in shown


def test_the_api_error_keeps_the_whole_message_until_it_is_shown() -> None:
    long = "z" * 3000
    error = from_api_exception(400, json.dumps({"message": long}), "GET", "/x")
    assert error.full_message == long
    assert error.message == masking.cut(long)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert error.shown(config_map, secret=False) == masking.cut(long)


class RefusingCluster:
    """Refuses every delete with a message that quotes the object's data (a policy on DELETE)."""

    def __init__(self, echo: str) -> None:
        self.echo = echo

    def resource(self, api_version: str, kind: str) -> object:
        return object()

    def delete(self, resource: object, namespace: str | None, name: str) -> bool:
        status = {"reason": "Forbidden", "message": f"denied: oldObject.data={self.echo}"}
        raise from_api_exception(403, json.dumps(status), "DELETE", "/x")


def test_a_refused_prune_of_a_secret_does_not_echo_its_values() -> None:
    body = secret_body(key=KEY)
    events: list[Any] = []

    class Sink:
        def handle(self, event: Any) -> None:
            events.append(event)

    cluster: Any = RefusingCluster(json.dumps(body["data"]))
    failed = pruning.prune_wave(cluster, [manifest(body)], sink=Sink())
    assert failed == [manifest(body).ref]
    [event] = events
    assert event.error and "403 Forbidden" in event.error
    assert not leaks(event.error, KEY), event.error
