"""masking: Secret values out of objects and messages, while still showing that something changed."""

from __future__ import annotations

import base64
import copy
from typing import Any

from gitops_push import masking

PASSWORD = "hunter2-unique-pass"
TOKEN = "tok-unique-0123456789"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(data: dict[str, Any] | None = None, string_data: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


# --- mask_object ----------------------------------------------------------------------------------------


def test_masking_is_decided_by_the_caller_from_the_reference_not_by_the_body() -> None:
    # Items of a LIST come without kind and apiVersion: the body alone would say "not a Secret".
    listed = {"metadata": {"name": "creds"}, "data": {"password": b64(PASSWORD)}}
    assert masking.mask_object(listed, secret=True)["data"] == {"password": masking.HIDDEN}
    assert masking.secret_values([listed]) >= {b64(PASSWORD), PASSWORD}


def test_mask_object_hides_every_value_of_data_and_string_data() -> None:
    original = secret({"password": b64(PASSWORD), "user": b64("admin")}, {"token": TOKEN})
    snapshot = copy.deepcopy(original)
    masked = masking.mask_object(original, secret=True)
    assert masked == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "data": {"password": "(hidden)", "user": "(hidden)"},
        "stringData": {"token": "(hidden)"},
    }
    assert original == snapshot  # a copy: the input is untouched


def test_mask_object_marks_the_values_that_differ_from_the_other_side() -> None:
    before = secret({"password": b64("old-pass"), "user": b64("admin")}, {"token": TOKEN})
    after = secret({"password": b64(PASSWORD), "user": b64("admin"), "new": b64("x")}, {"token": TOKEN})
    masked = masking.mask_object(after, before, secret=True)
    assert masked["data"] == {"password": "(hidden, changed)", "user": "(hidden)", "new": "(hidden, changed)"}
    assert masked["stringData"] == {"token": "(hidden)"}


def test_mask_object_against_an_other_side_without_values_marks_all_changed() -> None:
    masked = masking.mask_object(secret({"a": b64("x")}), secret(), secret=True)
    assert masked["data"] == {"a": "(hidden, changed)"}


def test_mask_object_leaves_other_kinds_alone_except_the_last_applied_annotation() -> None:
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "annotations": {masking.LAST_APPLIED: '{"data": {"k": "v"}}', "team": "shop"},
        },
        "data": {"k": "v"},
    }
    masked = masking.mask_object(config_map, secret=False)
    assert masked["data"] == {"k": "v"}
    assert masked["metadata"]["annotations"] == {masking.LAST_APPLIED: "(hidden)", "team": "shop"}
    assert config_map["metadata"]["annotations"][masking.LAST_APPLIED] == '{"data": {"k": "v"}}'


def test_mask_object_hides_the_last_applied_annotation_of_a_secret() -> None:
    obj = secret({"password": b64(PASSWORD)})
    obj["metadata"]["annotations"] = {masking.LAST_APPLIED: f'{{"data": {{"password": "{b64(PASSWORD)}"}}}}'}
    masked = masking.mask_object(obj, secret=True)
    assert PASSWORD not in str(masked)
    assert b64(PASSWORD) not in str(masked)


def test_mask_object_ignores_a_data_field_that_is_not_a_mapping() -> None:
    masked = masking.mask_object(secret(string_data={"a": "b"}) | {"data": None}, secret=True)
    assert masked["data"] is None
    assert masked["stringData"] == {"a": "(hidden)"}


# --- secret_values, mask_text ----------------------------------------------------------------------------


def test_secret_values_of_data_are_the_base64_text_and_its_decoding() -> None:
    values = masking.secret_values([secret({"password": b64(PASSWORD)})])
    assert values == {b64(PASSWORD), PASSWORD}


def test_secret_values_of_string_data_are_the_text_and_its_base64() -> None:
    values = masking.secret_values([secret(string_data={"token": TOKEN})])
    assert values == {TOKEN, b64(TOKEN)}


def test_secret_values_skip_short_undecodable_and_non_string_values() -> None:
    binary = base64.b64encode(b"\xff\xfe\xfd\xfc").decode()
    values = masking.secret_values(
        [
            secret({"short": b64("ab"), "binary": binary, "number": 5, "empty": ""}, {"tiny": "xy"}),
            None,
        ]
    )
    # "ab" decodes to 2 characters and "xy" is 2 characters: too short to mask without garbling text.
    # Bytes that are not UTF-8 are kept as Python writes them.
    assert values == {b64("ab"), binary, "\\xff\\xfe\\xfd\\xfc", b64("xy")}


def test_secret_values_of_data_that_is_not_base64_keep_the_raw_text() -> None:
    assert masking.secret_values([secret({"raw": "not base64!"})]) == {"not base64!"}


def test_mask_text_replaces_every_known_value() -> None:
    values = masking.secret_values([secret({"password": b64(PASSWORD)}, {"token": TOKEN})])
    message = (
        f'Secret "creds" is invalid: data[password]: {b64(PASSWORD)} decodes to {PASSWORD}; '
        f"stringData[token]: {TOKEN} ({b64(TOKEN)})"
    )
    masked = masking.mask_text(message, values)
    assert masked == (
        'Secret "creds" is invalid: data[password]: (hidden) decodes to (hidden); '
        "stringData[token]: (hidden) ((hidden))"
    )


def test_mask_text_replaces_the_longest_value_first() -> None:
    assert masking.mask_text("key=abcdef and abc", {"abc", "abcdef"}) == "key=(hidden) and (hidden)"


def test_mask_text_without_values_changes_nothing() -> None:
    assert masking.mask_text("nothing secret here", set()) == "nothing secret here"
