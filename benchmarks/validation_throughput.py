"""Validation throughput: how many manifests per second `validating.validate` checks with the bundled schemas.

    .venv/bin/python benchmarks/validation_throughput.py [--count 10000] [--repeat 3]

Builds COUNT small manifests (Deployments, Services and ConfigMaps in turn, one in a hundred with a
schema error), then times `validate()` under several validator set-ups and prints objects/second
for each. Every set-up must produce exactly the findings of the first one, or the script says so
and exits non-zero: a fast wrong validator is no candidate.

The chosen set-up decides each manifest with `fastcheck` (closures compiled once per schema node)
and asks jsonschema only to explain a manifest that fails it. The others send every manifest through
jsonschema: Draft 4, 7 and 2020-12 validator classes, with a format checker, and with `$ref`s
resolved at each use instead of linked once. Each set-up swaps `compiling.Compiler.compile`, how one
kind's validator is made, for the time it runs: this script is a measurement aid, not an example of
how to call `validate`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitops_push import model
from gitops_push.stages import validating
from gitops_push.stages.validating import compiling, explaining, translating


def deployment(n: int) -> dict[str, Any]:
    labels = {"app": f"web-{n}", "tier": "frontend"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"web-{n}", "namespace": "shop", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"prometheus.io/scrape": "true"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": f"registry.example/web:{n}",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "N", "value": str(n)}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": 1, "memory": "256Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": "http"},
                                "periodSeconds": 5,
                            },
                        }
                    ],
                    "securityContext": {"runAsNonRoot": True},
                },
            },
        },
    }


def service(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"web-{n}", "namespace": "shop"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": f"web-{n}"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def config_map(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"settings-{n}", "namespace": "shop"},
        "data": {"MODE": "prod", "LEVEL": str(n % 5), "settings.yaml": "a: 1\nb: 2\n"},
    }


def manifests(count: int) -> list[model.Manifest]:
    makers = (deployment, service, config_map)
    result = []
    for n in range(count):
        body = makers[n % 3](n)
        if n % 100 == 99:
            body["spec" if "spec" in body else "metadata"]["replicaz"] = 1  # one in a hundred is wrong
        group, _, _ = body["apiVersion"].rpartition("/")
        ref = model.ObjectRef(group, body["kind"], "shop", body["metadata"]["name"])
        source = model.SourceLocation(f"apps/{n}.yaml", 1, 0)
        result.append(model.Manifest(ref=ref, api_version=body["apiVersion"], body=body, source=source))
    return result


@contextmanager
def chosen() -> Iterator[None]:
    yield


def never(value: Any) -> bool:
    return False


# How a set-up compiles one kind: (the compiler, apiVersion, kind) -> an object with `passes` and
# `explainer`, or None for a kind the source does not know.
CompileKind = Callable[[compiling.Compiler, str, str], Any]


@contextmanager
def compiled_with(compile_kind: CompileKind) -> Iterator[None]:
    """`validate` compiles each kind with `compile_kind` instead of `compiling.Compiler.compile`."""
    saved = compiling.Compiler.compile
    compiling.Compiler.compile = compile_kind  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        compiling.Compiler.compile = saved  # type: ignore[method-assign]


def jsonschema_only(base: Any, format_checker: bool = False) -> AbstractContextManager[None]:
    """No fast check: every manifest is validated by jsonschema with a validator class made from `base`,
    on the schemas as the product translates and links them (once per group-version)."""
    cls = explaining.validator_class(base)
    if format_checker:
        plain = cls

        def cls(schema: Any, **kwargs: Any) -> Any:
            return plain(schema, format_checker=plain.FORMAT_CHECKER, **kwargs)

    def compile_kind(compiler: compiling.Compiler, api_version: str, kind: str) -> Any:
        compiled = compiler.document(api_version)
        if compiled is None or kind not in compiled.by_kind:
            return None
        return SimpleNamespace(passes=never, explainer=cls(compiled.schemas[compiled.by_kind[kind]]))

    return compiled_with(compile_kind)


# A set-up that starts from the translated schemas with their $refs still in place:
# (api_version, the document, its translated schemas, the kind's schema name) -> validator.
MakeValidator = Callable[[str, Any, dict[str, Any], str], Any]


def translated_with(make: MakeValidator) -> AbstractContextManager[None]:
    """Each kind made by `make` from its group-version's translated, unlinked schemas."""

    def compile_kind(compiler: compiling.Compiler, api_version: str, kind: str) -> Any:
        document = compiler.source.document_for(api_version)
        if document is None:
            return None
        schemas, by_kind = translating.document_schemas(document, api_version)
        return make(api_version, document, schemas, by_kind[kind]) if kind in by_kind else None

    return compiled_with(compile_kind)


def with_registry(api_version: str, document: Any, schemas: dict[str, Any], name: str) -> Any:
    """jsonschema only, the $refs left in place and looked up through a registry at each use."""
    uri = f"urn:benchmark:{api_version}"
    resource = referencing.jsonschema.DRAFT4.create_resource({"components": {"schemas": schemas}})
    registry = referencing.Registry().with_resource(uri, resource)
    root = {"$ref": f"{uri}#/components/schemas/{name}"}
    explainer = explaining.validator_class(jsonschema.Draft4Validator)(root, registry=registry)
    return SimpleNamespace(passes=never, explainer=explainer)


def with_fastjsonschema(api_version: str, document: Any, schemas: dict[str, Any], name: str) -> Any:
    """fastjsonschema's generated code decides (the $refs left to it), jsonschema explains a failure.

    fastjsonschema knows nothing of the translation's null-as-unset and date-as-string rules, so where
    they matter it rejects a valid manifest and jsonschema then finds nothing: the findings stay the
    same, and the generated manifests have no nulls or dates anyway.
    """
    import fastjsonschema

    generated = fastjsonschema.compile(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
    )

    def passes(value: Any) -> bool:
        try:
            generated(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    explainer = explaining.explainer(compiling.link(document, api_version).schemas[name])
    return SimpleNamespace(passes=passes, explainer=explainer)


def measure(name: str, items: list[model.Manifest], repeat: int, setup: Callable[[], Any]) -> list[str]:
    best = float("inf")
    findings: list[str] = []
    for _ in range(repeat):
        with setup():
            schemas = validating.BundledSchemas()  # a fresh source: compiling is part of the bill
            started = time.perf_counter()
            result = validating.validate(items, schemas, text_of=lambda path: "")
            best = min(best, time.perf_counter() - started)  # compiling each kind once included
        findings = [f"{f.ref} {f.field_path} {f.message}" for f in result]
    print(f"{name:<44} {len(items) / best:>9,.0f} objects/s  ({best:.2f} s, {len(findings)} findings)")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    items = manifests(args.count)
    setups: list[tuple[str, Callable[[], Any]]] = [
        ("fastcheck, jsonschema explains (chosen)", chosen),
        ("jsonschema Draft 4, $refs linked once", lambda: jsonschema_only(jsonschema.Draft4Validator)),
        ("jsonschema Draft 7, $refs linked once", lambda: jsonschema_only(jsonschema.Draft7Validator)),
        ("jsonschema 2020-12, $refs linked once", lambda: jsonschema_only(jsonschema.Draft202012Validator)),
        (
            "jsonschema Draft 4, linked, format_checker",
            lambda: jsonschema_only(jsonschema.Draft4Validator, format_checker=True),
        ),
        ("jsonschema Draft 4, $refs looked up per use", lambda: translated_with(with_registry)),
    ]
    if importlib.util.find_spec("fastjsonschema") is not None:
        setups.insert(
            1, ("fastjsonschema, jsonschema explains", lambda: translated_with(with_fastjsonschema))
        )
    else:
        print("fastjsonschema is not installed: its set-up is left out", file=sys.stderr)
    # One process for every set-up: this compares validators; bench_validate.py measures the stage,
    # which spreads a large set over processes (see gitops_push/forking.py).
    validating.PARALLEL_MIN_MANIFESTS = args.count + 1
    print(f"{args.count:,} manifests (Deployment, Service, ConfigMap), best of {args.repeat}, one process")
    validating.validate(items[:300], validating.BundledSchemas(), text_of=lambda path: "")  # warm-up
    reference: list[str] | None = None
    for name, setup in setups:
        findings = measure(name, items, args.repeat, setup)
        if reference is None:
            reference = findings
        elif findings != reference:
            print(f"  {name}: findings differ from the first set-up", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
