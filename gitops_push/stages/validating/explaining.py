"""Why a manifest fails its schema, in words: jsonschema walks it and each error becomes a `Finding`.

jsonschema is asked only about a manifest that the fast check did not pass. Its Draft 4 validator is
extended with Kubernetes' idea of null fields (`fastcheck.NULLS_ARE_UNSET`), with a YAML date counting
as a string, and with errors for unknown and missing fields that carry the field's own path, so that
each finding names its field and line. A Secret's values never appear in a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from gitops_push.model import Finding, Manifest
from gitops_push.stages.validating import fastcheck, locating

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

MAX_FINDINGS_PER_MANIFEST = 20
_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}
_SIMPLE_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _properties(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    nulls_are_unset = schema.get(fastcheck.NULLS_ARE_UNSET, False)
    # Walk the manifest's fields, not the schema's: a PodSpec lists ~40 fields, a manifest sets a few.
    for name, value in instance.items():
        subschema = properties.get(name)
        if subschema is None or (value is None and nulls_are_unset):
            continue
        yield from validator.descend(value, subschema, path=name, schema_path=name)


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    extras = [name for name in instance if name not in known]
    if allowed is False:
        # One error per field, on the field itself, so that each has its own path and line.
        for name in extras:
            yield _error(f'unknown field "{name}"', name)
    elif isinstance(allowed, Mapping):
        nulls_are_unset = schema.get(fastcheck.NULLS_ARE_UNSET, False)
        for name in extras:
            if instance[name] is not None or not nulls_are_unset:
                yield from validator.descend(instance[name], allowed, path=name)


def _required(validator: Any, required: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield _error(f'missing required field "{name}"', name)


def _error(message: str, name: str) -> ValidationError:
    from jsonschema import ValidationError

    return ValidationError(message, path=[name])


def _is_string(checker: Any, instance: Any) -> bool:
    # YAML reads an unquoted 2024-01-01 as a date; Kubernetes' YAML reader keeps it a string.
    return isinstance(instance, str | date)


def validator_class(base: Any) -> Any:
    """`base` with Kubernetes' idea of null fields and errors that carry the field's own path."""
    import jsonschema.validators

    extend: Any = jsonschema.validators.extend  # untyped in jsonschema
    return extend(
        base,
        validators={
            "properties": _properties,
            "additionalProperties": _additional_properties,
            "required": _required,
        },
        type_checker=base.TYPE_CHECKER.redefine("string", _is_string),
    )


# The jsonschema validator class that explains errors, made at its first use: jsonschema (and what it
# imports) is needed only when a manifest fails the fast check. Draft 4 is the dialect OpenAPI 3.0
# derives from (boolean exclusiveMinimum, `$ref` without siblings); benchmarks/validation_throughput.py
# measured it against Draft 7 and 2020-12.
_EXPLAINER_CLASS: Any = None


def explainer(schema: Mapping[str, Any]) -> Validator:
    """jsonschema's validator of a translated schema, to explain what the fast check did not pass."""
    global _EXPLAINER_CLASS
    if _EXPLAINER_CLASS is None:
        import jsonschema

        _EXPLAINER_CLASS = validator_class(jsonschema.Draft4Validator)
    made: Validator = _EXPLAINER_CLASS(schema)
    return made


def explain(manifest: Manifest, validator: Validator, lines: locating.Lines) -> list[Finding]:
    """A finding per field in error (at most MAX_FINDINGS_PER_MANIFEST, then one counting the rest)."""
    errors = _one_reason_per_field(validator.iter_errors(manifest.body))
    shown = errors[:MAX_FINDINGS_PER_MANIFEST]
    findings = [
        _finding(manifest, list(error.absolute_path), _describe(error, secret=manifest.is_secret), lines)
        for error in shown
    ]
    if len(errors) > len(shown):
        more = len(errors) - len(shown)
        findings.append(_finding(manifest, [], f"{more} more schema errors not shown", lines))
    return findings


def _one_reason_per_field(errors: Iterable[ValidationError]) -> list[ValidationError]:
    """Errors sorted by path; a wrong type hides the other complaints about the same field (a null
    given for an enum would otherwise be reported as both "not a string" and "not one of ...")."""
    by_path: dict[tuple[str | int, ...], list[ValidationError]] = {}
    for error in errors:
        by_path.setdefault(tuple(error.absolute_path), []).append(error)
    kept: list[ValidationError] = []
    for path in sorted(by_path, key=_sort_key):
        wrong_type = [e for e in by_path[path] if e.validator == "type"]
        kept += wrong_type or by_path[path]
    return kept


def _finding(manifest: Manifest, path: list[str | int], message: str, lines: locating.Lines) -> Finding:
    line, note = lines.locate(manifest, path)
    return Finding(
        source=replace(manifest.source, line=line),
        message=f"{message} ({note})" if note else message,
        ref=manifest.ref,
        field_path=_field_path(path),
    )


def unknown_kind(manifest: Manifest, lines: locating.Lines) -> Finding:
    message = f"unknown kind {manifest.ref.kind} in apiVersion {manifest.api_version}"
    return _finding(manifest, ["kind"], message, lines)


def _describe(error: ValidationError, *, secret: bool) -> str:
    """A short reason. A Secret's values never appear: the finding may end up in a public CI log."""
    # jsonschema types these as maybe-unset; they are always set on an error raised by a keyword.
    keyword, expected, value, schema = (
        error.validator,
        cast(Any, error.validator_value),
        error.instance,
        error.schema,
    )
    got = "" if secret else f" {_shown(value)}"
    if keyword in ("additionalProperties", "required"):
        return error.message  # built by our own keywords, from field names only
    if keyword == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        shown = got if value is not None else ""
        return f"expected {' or '.join(t for t in wanted if t != 'null')}, got {_type_name(value)}{shown}"
    if keyword == "enum":
        allowed = ", ".join(json.dumps(v) for v in expected if v is not None)
        return f"expected one of {allowed}, got{got or ' another value'}"
    # Draft 4, like OpenAPI 3.0, spells an exclusive bound as `exclusiveMinimum: true` beside `minimum`.
    exclusive = isinstance(schema, Mapping) and schema.get(f"exclusive{str(keyword).capitalize()}") is True
    bounds = {
        "minimum": f"must be {'>' if exclusive else '>='} {expected}",
        "maximum": f"must be {'<' if exclusive else '<='} {expected}",
        "multipleOf": f"must be a multiple of {expected}",
        "minLength": f"must be at least {expected} characters long",
        "maxLength": f"must be at most {expected} characters long",
        "pattern": f"must match the pattern {json.dumps(expected)}",
        "minItems": f"must have at least {expected} items",
        "maxItems": f"must have at most {expected} items",
        "uniqueItems": "must not repeat an item",
        "minProperties": f"must have at least {expected} fields",
        "maxProperties": f"must have at most {expected} fields",
        "anyOf": "matches none of the allowed shapes",
        "oneOf": "must match exactly one of the allowed shapes",
        "not": "matches a shape that is not allowed",
    }
    reason = bounds.get(str(keyword), f"fails the {keyword} rule")
    return f"{reason}, got{got}" if got and keyword not in ("anyOf", "oneOf", "not") else reason


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), "string" if isinstance(value, date) else type(value).__name__)


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"({_type_name(value)})"
    text = json.dumps(value if not isinstance(value, date) else str(value))
    return text if len(text) <= 60 else text[:57] + '..."'


def _field_path(path: Iterable[str | int]) -> str:
    """['spec', 'containers', 0, 'image'] -> 'spec.containers[0].image'; odd keys are quoted."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif _SIMPLE_KEY.match(step):
            text += f".{step}" if text else step
        else:
            text += f"[{json.dumps(step)}]"
    return text


def _sort_key(path: Iterable[str | int]) -> tuple[tuple[int, str, int], ...]:
    return tuple((0, "", step) if isinstance(step, int) else (1, str(step), 0) for step in path)
