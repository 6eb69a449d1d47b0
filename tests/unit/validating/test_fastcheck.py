"""The fast check agrees with jsonschema: it passes exactly what jsonschema finds no error in.

`validate` trusts a True from `fastcheck` without asking jsonschema, so a True where jsonschema
finds an error would let a broken manifest through. These tests hold the two to the same verdict on
real manifests, on seeded random instances of every bundled kind (most of them broken on purpose),
and on hand-written schemas for each keyword, including the shapes the check leaves undecided.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from gitops_push import yamltext
from gitops_push.stages import validating
from gitops_push.stages.validating import compiling, explaining, fastcheck
from tests.conftest import FIXTURES, REPO_ROOT

BUNDLED = validating.BundledSchemas()
SAMPLES_PER_KIND = 40


def jsonschema_passes(schema: Any, value: Any) -> bool:
    return not any(explaining.explainer(schema).iter_errors(value))


def kind_schemas() -> Iterator[tuple[str, dict[str, Any], fastcheck.Checks]]:
    """(apiVersion/kind, translated schema, the Checks that compiled it) for every bundled kind."""
    api_versions = BUNDLED.api_versions()
    assert len(api_versions) >= 20
    for api_version in api_versions:
        compiled = compiling.Compiler(BUNDLED).document(api_version)
        assert compiled is not None, api_version
        for kind, name in sorted(compiled.by_kind.items()):
            yield f"{api_version}/{kind}", compiled.schemas[name], compiled.checks


def real_manifests() -> list[dict[str, Any]]:
    plain = [
        FIXTURES / "microservices-demo",
        FIXTURES / "ingress-nginx",
        REPO_ROOT / "examples",
    ]  # not templates
    files = [file for folder in plain for file in sorted(folder.rglob("*.yaml"))]
    bodies = []
    for file in files:
        for document in yamltext.load_documents(file.read_text(encoding="utf-8")):
            data = document.data
            if isinstance(data, dict) and data.get("kind") != "Kustomization":  # not a Kubernetes object
                bodies.append(data)
    return bodies


def test_real_manifests_pass_without_jsonschema() -> None:
    bodies = real_manifests()
    assert len(bodies) >= 20
    compiler = compiling.Compiler(BUNDLED)
    for body in bodies:
        validator = compiler.validator_for(body["apiVersion"], body["kind"])
        assert validator is not None, body["kind"]
        assert validator.passes(body), f"{body['kind']} {body['metadata']['name']}"
        assert not any(validator.explainer.iter_errors(body))


def test_same_verdict_as_jsonschema_on_random_instances_of_every_kind() -> None:
    rng = random.Random(20261129)
    verdicts = {True: 0, False: 0}
    kinds_seen = 0
    for name, schema, checks in kind_schemas():
        kinds_seen += 1
        check = checks.of(schema)
        for _ in range(SAMPLES_PER_KIND):
            value = Sampler(rng).instance(schema)
            expected = jsonschema_passes(schema, value)
            assert check(value) == expected, f"{name}: {value!r}"
            verdicts[expected] += 1
    assert kinds_seen > 150
    # Both verdicts are well represented, or the agreement above would prove little.
    assert min(verdicts.values()) > 0.2 * sum(verdicts.values()), verdicts


class Sampler:
    """Random instances of a schema, right or wrong: each node is broken with a small probability."""

    BREAK = 0.08
    MAX_DEPTH = 7

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def instance(self, schema: Any, depth: int = 0) -> Any:
        if self.rng.random() < self.BREAK:
            return self.broken(schema)
        if not isinstance(schema, dict):
            return None
        for key in ("allOf", "anyOf"):
            if key in schema and "type" not in schema and "properties" not in schema:
                return self.instance(self.rng.choice(schema[key]), depth)
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        declared = schema.get("type", "object")
        kind = self.rng.choice(declared) if isinstance(declared, list) else declared
        return self.of_type(kind, schema, depth)

    def of_type(self, kind: str, schema: dict[str, Any], depth: int) -> Any:
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            item = schema.get("items", {})
            return (
                []
                if depth >= self.MAX_DEPTH
                else [self.instance(item, depth + 1) for _ in range(self.rng.randint(0, 2))]
            )
        scalars: dict[str, Any] = {
            "string": lambda: self.rng.choice(["", "a", "web-1", "10Mi", "2026-01-01T00:00:00Z"]),
            "integer": lambda: self.rng.randint(-2, 70000),
            "number": lambda: self.rng.choice([0, 1.5, -3]),
            "boolean": lambda: self.rng.random() < 0.5,
            "null": lambda: None,
        }
        return scalars.get(kind, lambda: None)()

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        names = [n for n in schema.get("required", ()) if n in properties]
        if depth < self.MAX_DEPTH and properties:
            names += self.rng.sample(sorted(properties), min(len(properties), self.rng.randint(0, 3)))
        value = {name: self.instance(properties[name], depth + 1) for name in names}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and depth < self.MAX_DEPTH:
            for index in range(self.rng.randint(0, 2)):
                value[f"key{index}"] = self.instance(extra, depth + 1)
        return value

    def broken(self, schema: Any) -> Any:
        """A value of the wrong type, a null, an unknown field, a missing field or a date."""
        choices: list[Any] = ["text", 7, True, None, [], {}, {"unknownField": 1}, date(2026, 1, 1), 2.5]
        if isinstance(schema, dict) and schema.get("properties"):
            valid = self.object(schema, Sampler.MAX_DEPTH - 1)
            if valid:
                valid.pop(self.rng.choice(sorted(valid)))
                choices.append(valid)
            choices.append({name: None for name in schema["properties"]})
        return self.rng.choice(choices)


# --- each keyword, against jsonschema -------------------------------------------------------------

CLOSED = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
NULLS_UNSET = {**CLOSED, fastcheck.NULLS_ARE_UNSET: True}
CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("closed object", CLOSED, [{}, {"a": "x"}, {"a": 1}, {"b": "x"}, {"a": None}, "not an object"]),
    ("null as unset", NULLS_UNSET, [{"a": None}, {"b": None}, {"a": 1}]),
    (
        "open map",
        {"type": "object", "additionalProperties": {"type": "integer"}, fastcheck.NULLS_ARE_UNSET: True},
        [{"x": 1}, {"x": "1"}, {"x": None}, {"x": True}],
    ),
    (
        "required and sizes",
        {"required": ["a"], "minProperties": 1, "maxProperties": 2},
        [{"a": 1}, {"b": 1}, {"a": 1, "b": 2, "c": 3}, [], 3],
    ),
    ("types", {"type": ["integer", "string"]}, [1, "1", 1.0, True, None, date(2026, 1, 1)]),
    (
        "number",
        {"type": "number", "minimum": 1, "exclusiveMaximum": True, "maximum": 3},
        [1, 2.5, 3, 0, False],
    ),
    ("multipleOf", {"multipleOf": 2}, [4, 3, "x"]),
    ("float multipleOf", {"multipleOf": 0.5}, [1.5, 1.2, 2, 4.0]),
    ("enum", {"enum": ["a", 1, None]}, ["a", "b", 1, 1.0, True, None, [1], date(2026, 1, 1)]),
    ("enum of bools", {"enum": [True]}, [True, 1, "true"]),
    ("pattern", {"pattern": "^[a-z]+$", "maxLength": 3}, ["abc", "abcd", "ABC", 5, date(2026, 1, 1)]),
    (
        "array",
        {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
        [["a"], [], ["a", 1], ["a"] * 3],
    ),
    ("unique strings", {"uniqueItems": True}, [["a", "b"], ["a", "a"], [1, True], [1, 1]]),
    # A type whose own keywords are checked in the same call: other types still fail it.
    (
        "typed object",
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        [{"a": "x"}, {}, {"a": 1}, "x", [], None, 1],
    ),
    ("typed string", {"type": "string", "pattern": "^x", "maxLength": 3}, ["xy", "y", "xyzw", 1, None, []]),
    ("typed array", {"type": "array", "minItems": 1}, [["a"], [], "a", {}, None]),
    (
        "anyOf",
        {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^x"}]},
        [None, "xy", "y", date(2026, 1, 1)],
    ),
    ("oneOf", {"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1, 1.5, "x"]),
    ("undecided oneOf", {"oneOf": [{"enum": ["a"]}, {"type": "string"}]}, ["a", "b", 1]),
    ("not", {"not": {"type": "string"}}, ["x", 1]),
    ("undecided not", {"not": {"pattern": "^x"}}, ["xy", "y", 1]),
    ("unknown keyword", {"type": "string", "format": "date-time"}, ["x"]),
]


@pytest.mark.parametrize(("name", "schema", "values"), CASES, ids=[c[0] for c in CASES])
def test_keyword_never_passes_what_jsonschema_rejects(
    name: str, schema: dict[str, Any], values: list[Any]
) -> None:
    check = fastcheck.Checks().of(schema)
    for value in values:
        if check(value):
            assert jsonschema_passes(schema, value), f"{name}: {value!r}"


@pytest.mark.parametrize(
    ("name", "schema", "values"), [c for c in CASES if not c[0].startswith(("undecided", "unknown", "float"))]
)
def test_decided_keywords_agree_exactly(name: str, schema: dict[str, Any], values: list[Any]) -> None:
    check = fastcheck.Checks().of(schema)
    for value in values:
        if isinstance(value, date) or (
            name in ("enum", "unique strings") and not isinstance(value, str | None)
        ):
            continue  # dates and non-string enum/unique values are left to jsonschema on purpose
        assert check(value) == jsonschema_passes(schema, value), f"{name}: {value!r}"


def test_a_recursive_schema_checks_every_level() -> None:
    node: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}},
    }
    node["properties"]["child"] = node
    check = fastcheck.Checks().of(node)
    assert check({"name": "a", "child": {"name": "b", "child": {"name": "c"}}})
    assert not check({"name": "a", "child": {"name": "b", "child": {"name": 3}}})
    assert not check({"child": {"child": {"unknown": 1}}})
