"""Validation throughput of gitops-push beside kubeconform, both given the same schemas.

    python benchmarks/bench_validate.py [--runs 5] [--plan-runs 1] [--schemas-only DIR]

The 10,000 objects of benchmarks/generate.py's large repository are validated by:

- `gitops-push plan --all --offline` (the whole command: Git, YAML, validation, diffs, output),
  each run between a run of kubeconform -n 2 and one of -n 1;
- `gitops_push.stages.validating.validate()` called directly on the loaded manifests, with a fresh
  `BundledSchemas` each run (compiling the five kinds' validators is part of the bill), and the same
  with loading the manifests from Git (YAML parsing) included;
- kubeconform, built from its Go module (`tools/go/kubeconform`, into the cache folder outside the
  checkout), run as `kubeconform -strict -summary -n 2 -schema-location DIR/...` over the files, with
  2 goroutines as the machine has 2 cores (and with `-n 1`, for one core like gitops-push).

kubeconform reads the schemas gitops-push validates with: for every kind of the bundled OpenAPI
documents (gitops_push/schemas/v1.36), the document is translated by gitops-push's own
`validating.translating.document_schemas` (int-or-string, nullable, preserve-unknown-fields, and
`additionalProperties: false` on every object that lists properties: strict), then every `$ref` is
inlined into one standalone Draft 4 file per kind, named as kubeconform's template
`{{ .ResourceKind }}{{ .KindSuffix }}.json` expects (deployment-apps-v1.json). Before timing, both
validators are given the same few invalid objects and must reject the same ones, or the script stops:
a validator that checks less is no yardstick. Target: gitops-push at least half as fast as kubeconform.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_plan
import generate
from common import (
    ROOT,
    Figure,
    Report,
    Timing,
    cache_root,
    gitops_push_command,
    print_report,
    time_commands,
)

from gitops_push import gitrepo
from gitops_push.model import Manifest, ObjectRef, SourceLocation
from gitops_push.stages import loading, validating
from gitops_push.stages.validating import translating

NAME = "validate"
WHOLE_COMMAND = "gitops-push plan --all --offline (whole command)"
RATIO_NAMES = {
    WHOLE_COMMAND: "plan --all --offline",
    "gitops-push validate() in process, fresh schemas": "validate() alone",
    "gitops-push load from Git + validate() in process": "load + validate() (kubeconform's work)",
}
# gitops-push's objects/s over kubeconform -n 2's: at least half (issue 6), and for the whole command
# at least as fast (issue 16).
SPEED_TARGETS = {label: 1.0 if label == WHOLE_COMMAND else 0.5 for label in RATIO_NAMES}
KUBECONFORM_MODULE = ROOT / "tools" / "go" / "kubeconform"
KUBECONFORM_PACKAGE = "github.com/yannh/kubeconform/cmd/kubeconform"
SCHEMA_TEMPLATE = "{{ .ResourceKind }}{{ .KindSuffix }}.json"
REF_PREFIX = "#/components/schemas/"
PRIVATE_KEYWORD = "x-gitops-push-nulls-are-unset"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
SUMMARY = re.compile(
    r"Summary: (\d+) resources? found in (\d+) files? - Valid: (\d+), Invalid: (\d+), Errors: (\d+), Skipped: (\d+)"
)


# --- kubeconform -----------------------------------------------------------------------------------


def build_kubeconform() -> Path:
    """`go build` of the module's kubeconform into the cache folder; built once per module and Go."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("Go is not installed; kubeconform is built from its Go module")
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256(
        version.encode()
        + (KUBECONFORM_MODULE / "go.mod").read_bytes()
        + (KUBECONFORM_MODULE / "go.sum").read_bytes()
    ).hexdigest()[:16]
    binary = cache_root() / "bench" / "kubeconform" / key / "kubeconform"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".partial.{os.getpid()}")
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    print(f"building kubeconform into {binary.parent}", file=sys.stderr)
    subprocess.run(
        [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(partial), KUBECONFORM_PACKAGE],
        cwd=KUBECONFORM_MODULE,
        env=env,
        check=True,
    )
    partial.replace(binary)
    return binary


def kind_suffix(api_version: str) -> str:
    """kubeconform's {{ .KindSuffix }}: -v1, -apps-v1, -networking-v1 (first label of the group)."""
    group, _, version = api_version.rpartition("/")
    return f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"


def standalone(name: str, schemas: Mapping[str, Any]) -> dict[str, Any]:
    """One schema with every $ref inlined; a $ref back into its own ancestry (a recursive type such as
    JSONSchemaProps) points into `definitions` instead, which are inlined the same way."""
    wanted: list[str] = []

    def expand(node: Any, stack: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                target = ref[len(REF_PREFIX) :]
                if target in stack:
                    if target not in wanted:
                        wanted.append(target)
                    return {"$ref": f"#/definitions/{target}"}
                return expand(schemas.get(target, {}), stack | {target})
            return {key: expand(value, stack) for key, value in node.items() if key != PRIVATE_KEYWORD}
        if isinstance(node, list):
            return [expand(item, stack) for item in node]
        return node

    root: dict[str, Any] = {"$schema": DRAFT4, **expand(schemas[name], frozenset({name}))}
    definitions: dict[str, Any] = {}
    while len(definitions) < len(wanted):
        target = wanted[len(definitions)]
        definitions[target] = expand(schemas[target], frozenset({target}))
    if definitions:
        root["definitions"] = definitions
    return root


def write_kubeconform_schemas(folder: Path) -> int:
    """kubeconform-style standalone strict schemas for every kind of the bundled documents."""
    bundled = validating.BundledSchemas()
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for api_version in bundled.api_versions():
        document = bundled.document_for(api_version)
        assert document is not None, api_version
        translated, by_kind = translating.document_schemas(document, api_version)
        for kind, name in sorted(by_kind.items()):
            out = folder / f"{kind.lower()}{kind_suffix(api_version)}.json"
            out.write_text(json.dumps(standalone(name, translated), separators=(",", ":")))
            written += 1
    return written


def schema_folder() -> Path:
    """Generated once per version of the bundled schemas, of the translation and of this script."""
    digest = hashlib.sha256(Path(translating.__file__).read_bytes() + Path(__file__).read_bytes())
    source = Path(str(validating.BundledSchemas().folder))
    for file in sorted(source.glob("*.json")):
        digest.update(file.read_bytes())
    folder = cache_root() / "bench" / "kubeconform-schemas" / digest.hexdigest()[:16]
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        write_kubeconform_schemas(folder)
        (folder / ".complete").touch()
    return folder


def kubeconform_argv(
    binary: Path, schemas: Path, target: Path, workers: int, output: str = "text"
) -> list[str]:
    return [
        str(binary),
        "-strict",
        "-summary",
        "-n",
        str(workers),
        "-output",
        output,
        "-schema-location",
        f"{schemas}/{SCHEMA_TEMPLATE}",
        str(target),
    ]


# --- the same verdicts -----------------------------------------------------------------------------

ProbeMaker = Callable[[dict[str, Any]], None]


def _probes() -> dict[str, tuple[str, ProbeMaker | None]]:
    """name -> (kind of the generator's object, how to break it; None: left valid)."""

    def unknown_field(body: dict[str, Any]) -> None:
        body["spec"]["replicaz"] = 1

    def wrong_type(body: dict[str, Any]) -> None:
        body["spec"]["ports"][0]["port"] = "eighty"

    def number_as_data(body: dict[str, Any]) -> None:
        body["data"]["RETRIES"] = 3

    def nested_label(body: dict[str, Any]) -> None:
        body["metadata"]["labels"]["team"] = {"name": "a"}

    def unknown_container_field(body: dict[str, Any]) -> None:
        body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"

    def bad_enum_free_string(body: dict[str, Any]) -> None:
        body["spec"]["replicas"] = "two"

    return {
        "probe-valid-deployment": ("Deployment", None),
        "probe-valid-service": ("Service", None),
        "probe-unknown-field": ("Deployment", unknown_field),
        "probe-wrong-type": ("Service", wrong_type),
        "probe-number-as-data": ("ConfigMap", number_as_data),
        "probe-nested-label": ("Secret", nested_label),
        "probe-container-field": ("Deployment", unknown_container_field),
        "probe-string-replicas": ("Deployment", bad_enum_free_string),
    }


def check_same_verdicts(binary: Path, schemas: Path) -> list[str]:
    """Both validators reject exactly the broken probes; returns their names."""
    import yaml

    rejected_by: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifests = []
        for name, (kind, breaker) in _probes().items():
            body = copy.deepcopy(generate.body(generate.Obj(kind, name, "bench-0")))
            if breaker is not None:
                breaker(body)
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(yaml.safe_dump(body, sort_keys=False))
            group, _, _ = body["apiVersion"].rpartition("/")
            ref = ObjectRef(group, kind, "bench-0", name)
            source = SourceLocation(path.name, 1)
            manifests.append(Manifest(ref=ref, api_version=body["apiVersion"], body=body, source=source))
        findings = validating.validate(manifests, validating.BundledSchemas(), text_of=lambda path: "")
        rejected_by["gitops-push"] = {f.ref.name for f in findings if f.ref is not None}
        out = subprocess.run(
            kubeconform_argv(binary, schemas, Path(tmp), 1, output="json"),
            capture_output=True,
            text=True,
            check=False,
        )
        results = json.loads(out.stdout).get("resources") or []
        rejected_by["kubeconform"] = {r["name"] for r in results if r["status"] != "statusValid"}
        errors = [r for r in results if r["status"] == "statusError"]
        if errors:
            raise RuntimeError(f"kubeconform could not validate the probes: {errors[0]['msg']}")
    expected = {name for name, (_, breaker) in _probes().items() if breaker is not None}
    for tool, rejected in rejected_by.items():
        if rejected != expected:
            raise RuntimeError(
                f"{tool} rejected {sorted(rejected)}, not {sorted(expected)}: the comparison would be void"
            )
    return sorted(expected)


# --- gitops-push in process ------------------------------------------------------------------------


def load_manifests(repo: generate.Generated) -> tuple[list[Manifest], dict[str, str]]:
    """What the pipeline loads for `plan --all`: every object at HEAD, keyed, namespaces defaulted."""
    git = gitrepo.open_repo(repo.path)
    head = git.resolve("HEAD")
    side = loading.read_side(git, git.tree_files(head, [repo.manifests]))
    scopes = loading.Scopes(lambda api_version, kind: None, side.documents)
    objects, duplicates = loading.key_documents(side.documents, scopes, None)
    if duplicates or side.findings:
        raise RuntimeError(f"the generated repository has findings: {[*duplicates, *side.findings][:3]}")
    return list(objects.values()), side.texts


def time_in_process(repo: generate.Generated, runs: int) -> tuple[Timing, Timing, int]:
    """(validate() alone, load + validate), each run with fresh schemas; and the findings count."""
    validate_only, load_and_validate = [], []
    findings = 0
    for _ in range(max(1, min(runs, 50))):
        started = time.perf_counter()
        manifests, texts = load_manifests(repo)
        loaded = time.perf_counter()
        found = validating.validate(manifests, validating.BundledSchemas(), text_of=texts.__getitem__)
        done = time.perf_counter()
        validate_only.append(done - loaded)
        load_and_validate.append(done - started)
        findings = len(found)
    return Timing(tuple(validate_only)), Timing(tuple(load_and_validate)), findings


# --- the benchmark ---------------------------------------------------------------------------------


def run(report: Report, *, runs: int = 5, plan_runs: int = 1) -> None:
    large = generate.ensure(generate.LARGE)
    binary = build_kubeconform()
    schemas = schema_folder()
    probes = check_same_verdicts(binary, schemas)
    target = large.path / large.manifests
    summary = subprocess.run(
        kubeconform_argv(binary, schemas, target, 2), capture_output=True, text=True, check=False
    )
    match = SUMMARY.search(summary.stdout)
    if not match or int(match.group(3)) != large.objects:
        raise RuntimeError(f"kubeconform did not find {large.objects} valid objects: {summary.stdout[-500:]}")
    # The whole plan runs between kubeconform's runs, not in another script minutes apart: this
    # machine's speed moves from hour to hour, and a ratio of two figures from two moments measured
    # the moments as much as the tools.
    plan_all = [*gitops_push_command(), *bench_plan.plan_argv(large, "--all")]
    timings = time_commands(
        {
            "kc2": (kubeconform_argv(binary, schemas, target, 2), None),
            "plan": (plan_all, large.path),
            "kc1": (kubeconform_argv(binary, schemas, target, 1), None),
        },
        runs=max(runs, plan_runs),
    )
    validate_only, load_and_validate, findings = time_in_process(large, runs)
    if findings:
        raise RuntimeError(f"gitops-push found {findings} problems in the generated objects")
    plan_timing = timings["plan"]
    plan_detail = f"{plan_timing.describe()}; its runs interleaved with kubeconform's"
    plan_seconds = plan_timing.median

    n = large.objects
    kc2, kc1 = n / timings["kc2"].median, n / timings["kc1"].median
    rates = {
        "gitops-push plan --all --offline (whole command)": (n / plan_seconds, plan_detail),
        "gitops-push validate() in process, fresh schemas": (
            n / validate_only.median,
            validate_only.describe(),
        ),
        "gitops-push load from Git + validate() in process": (
            n / load_and_validate.median,
            load_and_validate.describe(),
        ),
    }
    check = f"same verdicts on {len(probes)} broken + 2 valid probes; 10,000 valid"
    report.add(
        Figure(NAME, "kubeconform -strict -n 2", kc2, "objects/s", timings["kc2"].describe() + "; " + check)
    )
    report.add(Figure(NAME, "kubeconform -strict -n 1", kc1, "objects/s", timings["kc1"].describe()))
    for label, (rate, detail) in rates.items():
        report.add(Figure(NAME, label, rate, "objects/s", detail))
    for label, (rate, _) in rates.items():
        share = rate / kc2
        report.add(
            Figure(
                NAME,
                f"{RATIO_NAMES[label]} / kubeconform -n 2",
                share,
                "x",
                f"objects/s over objects/s; kubeconform -n 1: {rate / kc1:.2f}x",
                f">= {SPEED_TARGETS[label]:g}x",
                share >= SPEED_TARGETS[label],
            )
        )
    report.add(cpu_beside_kubeconform(plan_timing, timings["kc2"]))
    print(
        f"validate: {len(list(schemas.glob('*.json')))} kubeconform schema files in {schemas}; "
        f"median validate() {statistics.median(validate_only.samples):.2f} s",
        file=sys.stderr,
    )


def cpu_beside_kubeconform(plan: Timing, kubeconform: Timing) -> Figure:
    """CPU seconds of kubeconform -n 2 over those of the whole plan --all: above 1, the plan used
    less CPU for the same objects, and any gap in wall-clock time is in how much of its work runs
    on both cores at once."""
    if plan.cpu_median is None or kubeconform.cpu_median is None:
        raise RuntimeError("the CPU time of plan --all or kubeconform was not measured")
    return Figure(
        NAME,
        "CPU seconds: kubeconform -n 2 / plan --all --offline",
        kubeconform.cpu_median / plan.cpu_median,
        "x",
        f"medians: kubeconform {kubeconform.cpu_median:.2f} CPU s, plan --all {plan.cpu_median:.2f} "
        "CPU s (the process and its forked children)",
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs of kubeconform and validate()")
    parser.add_argument(
        "--plan-runs",
        type=int,
        default=1,
        help="at least this many timed runs of plan --all (default 1; it runs as often as kubeconform)",
    )
    parser.add_argument("--schemas-only", type=Path, metavar="DIR", help="only write the schemas to DIR")
    args = parser.parse_args()
    if args.schemas_only:
        print(f"{write_kubeconform_schemas(args.schemas_only)} schema files in {args.schemas_only}")
        return 0
    report = Report()
    run(report, runs=args.runs, plan_runs=args.plan_runs)
    print_report(report, "validation: gitops-push beside kubeconform")
    return 0


if __name__ == "__main__":
    sys.exit(main())
