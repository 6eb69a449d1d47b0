"""A fast yes-or-no check of a value against a schema that `translating` produced.

jsonschema explains every error well but walks each value through a general machine: a new validator
object per schema node visited, resolving keywords by name, yielding errors through generators.
Almost every manifest is valid, though, and a valid one needs no explanation. `Checks` turns a schema
(a linked, possibly cyclic graph of dicts) into nested closures that answer one question, "is this
value valid?", about ten times faster.

The answer is one-sided by design: True means jsonschema would find no error; False means "ask
jsonschema", which then finds the errors or, in the few shapes this module does not decide (a
value of a type YAML rarely produces, a keyword it does not know), finds none. So a False is never
reported as an error by itself, and a shape left undecided costs speed, never correctness.
tests/unit/validating/test_fastcheck.py holds the two to the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

Check = Callable[[Any], bool]

NULLS_ARE_UNSET = "x-gitops-push-nulls-are-unset"  # a null field of this object counts as absent

_OBJECT_KEYWORDS = frozenset(
    {"properties", "additionalProperties", "required", "minProperties", "maxProperties", NULLS_ARE_UNSET}
)
_ARRAY_KEYWORDS = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_STRING_KEYWORDS = frozenset({"pattern", "minLength", "maxLength"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_KNOWN_KEYWORDS = (
    _OBJECT_KEYWORDS
    | _ARRAY_KEYWORDS
    | _STRING_KEYWORDS
    | _NUMBER_KEYWORDS
    | {"type", "enum", "allOf", "anyOf", "oneOf", "not"}
)


def _undecided(value: Any) -> bool:
    return False


def _anything(value: Any) -> bool:
    return True


_STRINGS = (str, date)  # tuples, not `str | date`: a union would be built again at every call
_NUMBERS = (int, float)

# Draft 4's types as jsonschema checks them, with one change (as in `explaining`): a YAML date is a string.
_TYPE_TESTS: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, _STRINGS),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, _NUMBERS) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
# A node of one of these types whose own keywords also check its values tests the type in that same
# check (one call a value instead of two): most nodes of a manifest's schema are such.
_OWN_TYPE = {"object": dict, "array": list, "string": str}


class Checks:
    """Compiles schema nodes into checks, each node once (shared and recursive nodes included).

    Keep one per schema graph: nodes are remembered by identity, so the graph must outlive it.
    """

    def __init__(self) -> None:
        self._compiled: dict[int, Check] = {}
        self._exact: dict[int, bool] = {}

    def of(self, schema: Any) -> Check:
        key = id(schema)
        known = self._compiled.get(key)
        if known is not None:
            return known
        # A recursive schema reaches itself while being compiled: point there through a cell.
        cell: list[Check] = []
        self._compiled[key] = lambda value: cell[0](value)
        check = self._build(schema)
        cell.append(check)
        self._compiled[key] = check
        return check

    def exact(self, schema: Any) -> bool:
        """True if the node's check never leaves a question undecided (so that it may be negated)."""
        key = id(schema)
        if key not in self._exact:
            self._exact[key] = True  # a cycle does not make a node less exact than its other parts
            self._exact[key] = self._is_exact(schema)
        return self._exact[key]

    def _is_exact(self, schema: Any) -> bool:
        if not isinstance(schema, Mapping) or not set(schema) <= _KNOWN_KEYWORDS:
            return False
        # The string keywords leave a date undecided: it is a string to `type` but has no length.
        if any(k in schema for k in ("not", "oneOf", "enum", "uniqueItems", "multipleOf", *_STRING_KEYWORDS)):
            return False
        if not isinstance(schema.get("items", {}), Mapping) or _type_part(schema.get("type")) is _undecided:
            return False
        if not isinstance(schema.get("additionalProperties", True), bool | Mapping):
            return False
        children = [*schema.get("allOf", ()), *schema.get("anyOf", ())]
        children += list((schema.get("properties") or {}).values())
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), Mapping):
                children.append(schema[key])
        return all(self.exact(child) for child in children)

    def _build(self, schema: Any) -> Check:
        if not isinstance(schema, Mapping) or not set(schema) <= _KNOWN_KEYWORDS:
            return _undecided
        declared = schema.get("type")
        own = _OWN_TYPE.get(declared) if isinstance(declared, str) else None
        shaped = {
            dict: self._object_part(schema, own is dict),
            list: self._array_part(schema, own is list),
            str: _string_part(schema, own is str),
        }
        typed = _type_part(declared) if own is None or shaped[own] is None else None
        parts = [
            part
            for part in (
                typed,
                *shaped.values(),
                _number_part(schema),
                _enum_part(schema),
                self._composition_part(schema),
            )
            if part is not None
        ]
        return _all_of(parts)

    def _object_part(self, schema: Mapping[str, Any], typed: bool) -> Check | None:
        """The object keywords' check; with `typed`, it also fails what is not an object."""
        if not _OBJECT_KEYWORDS & set(schema):
            return None
        properties = {name: self.of(sub) for name, sub in (schema.get("properties") or {}).items()}
        extra = schema.get("additionalProperties", True)
        if not (extra is True or extra is False or isinstance(extra, Mapping)):
            return _undecided
        return _object_check(
            properties=properties,
            closed=extra is False,
            extra=self.of(extra) if isinstance(extra, Mapping) else None,
            required=tuple(schema.get("required", ())),
            nulls_are_unset=schema.get(NULLS_ARE_UNSET, False) is True,
            sizes=(schema.get("minProperties"), schema.get("maxProperties")),
            typed=typed,
        )

    def _array_part(self, schema: Mapping[str, Any], typed: bool) -> Check | None:
        """The array keywords' check; with `typed`, it also fails what is not an array."""
        if not _ARRAY_KEYWORDS & set(schema):
            return None
        items = schema.get("items")
        if items is not None and not isinstance(items, Mapping):
            return _undecided  # the tuple form of `items`: not produced by the translation
        item_check = self.of(items) if items is not None else None
        low, high = schema.get("minItems"), schema.get("maxItems")
        unique = schema.get("uniqueItems") is True

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return not typed
            if (low is not None and len(value) < low) or (high is not None and len(value) > high):
                return False
            if unique and not _all_distinct_strings(value):
                return False
            return item_check is None or all(item_check(item) for item in value)

        return check

    def _composition_part(self, schema: Mapping[str, Any]) -> Check | None:
        parts: list[Check] = []
        if "allOf" in schema:
            parts += [self.of(sub) for sub in schema["allOf"]]
        if "anyOf" in schema:
            # An undecided branch only makes the whole undecided: a True from any branch is certain.
            branches = [self.of(sub) for sub in schema["anyOf"]]
            parts.append(lambda value: any(branch(value) for branch in branches))
        if "oneOf" in schema:
            parts.append(self._one_of(schema["oneOf"]))
        if "not" in schema:
            inner = self.of(schema["not"])
            parts.append((lambda value: not inner(value)) if self.exact(schema["not"]) else _undecided)
        return _all_of(parts) if parts else None

    def _one_of(self, subschemas: Any) -> Check:
        # "Exactly one" counts the branches that fail, so each must be decided for certain.
        if not all(self.exact(sub) for sub in subschemas):
            return _undecided
        branches = [self.of(sub) for sub in subschemas]
        return lambda value: sum(1 for branch in branches if branch(value)) == 1


def _all_of(parts: list[Check]) -> Check:
    if not parts:
        return _anything
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda value: first(value) and second(value)
    return lambda value: all(part(value) for part in parts)


def _type_part(declared: Any) -> Check | None:
    if declared is None:
        return None
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not all(name in _TYPE_TESTS for name in names):
        return _undecided
    if len(names) == 1:
        return _TYPE_TESTS[names[0]]
    tests = [_TYPE_TESTS[name] for name in names]
    return lambda value: any(test(value) for test in tests)


def _object_check(
    *,
    properties: dict[str, Check],
    closed: bool,
    extra: Check | None,
    required: tuple[Any, ...],
    nulls_are_unset: bool,
    sizes: tuple[Any, Any],
    typed: bool,
) -> Check:
    low, high = sizes

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return not typed
        for name in required:
            if name not in value:
                return False
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return False
        for name, item in value.items():
            sub = properties.get(name)
            if sub is None:
                # A closed object refuses an unknown field even when it is null.
                if closed:
                    return False
                sub = extra
            if sub is not None and not (item is None and nulls_are_unset) and not sub(item):
                return False
        return True

    return check


def _string_part(schema: Mapping[str, Any], typed: bool) -> Check | None:
    """The string keywords' check; with `typed`, it also fails what is not a string (a date too:
    the type takes it, but its length is for jsonschema to decide)."""
    if not _STRING_KEYWORDS & set(schema):
        return None
    try:
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    except (re.error, TypeError):
        return _undecided
    low, high = schema.get("minLength"), schema.get("maxLength")

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return not typed and not isinstance(value, date)  # a date is a string to `type` only: undecided
        if pattern is not None and pattern.search(value) is None:
            return False
        return (low is None or len(value) >= low) and (high is None or len(value) <= high)

    return check


def _number_part(schema: Mapping[str, Any]) -> Check | None:
    if not _NUMBER_KEYWORDS & set(schema):
        return None
    low, high, step = schema.get("minimum"), schema.get("maximum"), schema.get("multipleOf")
    above = schema.get("exclusiveMinimum") is True
    below = schema.get("exclusiveMaximum") is True

    def check(value: Any) -> bool:
        if not isinstance(value, _NUMBERS) or isinstance(value, bool):
            return True
        if low is not None and (value <= low if above else value < low):
            return False
        if high is not None and (value >= high if below else value > high):
            return False
        if step is not None:
            # Integer steps are exact; jsonschema's float arithmetic is left to jsonschema.
            return isinstance(value, int) and isinstance(step, int) and value % step == 0
        return True

    return check


def _enum_part(schema: Mapping[str, Any]) -> Check | None:
    if "enum" not in schema:
        return None
    allowed = {_enum_key(v) for v in schema["enum"] if _enum_key(v) is not None}

    def check(value: Any) -> bool:
        key = _enum_key(value)
        return key is not None and key in allowed

    return check


def _enum_key(value: Any) -> tuple[str, Any] | None:
    """Equality as jsonschema's enum sees it for scalars: True is not 1, 1 is 1.0; others undecided."""
    if value is None or isinstance(value, str):
        return ("scalar", value)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, _NUMBERS):
        return ("number", value)
    return None


def _all_distinct_strings(items: list[Any]) -> bool:
    return all(isinstance(item, str) for item in items) and len(set(items)) == len(items)
