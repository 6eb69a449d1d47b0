"""Reporters: a fixed list of events in, the exact JSON document and the text lines out, and the exit code."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from rich.console import Console

from gitops_push import reporters
from gitops_push.errors import ExitCode
from gitops_push.events import (
    Event,
    FileSkipped,
    FindingFound,
    HealthChanged,
    Note,
    ObjectActed,
    PlanReady,
    RenderersFound,
    RunFailed,
    RunFinished,
    RunStarted,
    Stage,
    StageFinished,
    StageStarted,
    Status,
    TagRecorded,
)
from gitops_push.model import (
    Action,
    Change,
    Finding,
    ForeignFields,
    Manifest,
    ObjectRef,
    Op,
    Plan,
    Range,
    Skipped,
    SourceLocation,
    StepView,
)
from gitops_push.reporters.human import HumanReporter
from gitops_push.reporters.stats import Summary

BASE = "1111111111111111111111111111111111111111"
HEAD = "2222222222222222222222222222222222222222"
TAG = "deployed/prod/20240101T000000Z"


def manifest(
    api_version: str, kind: str, name: str, path: str, line: int, namespace: str | None = "shop"
) -> Manifest:
    group = api_version.rpartition("/")[0]
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    return Manifest(ObjectRef(group, kind, namespace, name), api_version, body, SourceLocation(path, line))


SETTINGS = manifest("v1", "ConfigMap", "settings", "k8s/app.yaml", 1)
WEB = manifest("apps/v1", "Deployment", "web", "k8s/app.yaml", 9)
LEGACY = manifest("v1", "Service", "legacy", "k8s/old.yaml", 1)
SAME = manifest("v1", "ConfigMap", "same", "k8s/same.yaml", 1)
NAMESPACE = manifest("v1", "Namespace", "shop", "k8s/ns.yaml", 1, namespace=None)

PLAN = Plan(
    range=Range(BASE, HEAD, "deployed/prod/20231231T000000Z"),
    apply_waves=(
        (Change(Op.CREATE, SETTINGS.ref, SETTINGS, diff=("@@ -0,0 +1 @@", "+kind: ConfigMap")),),
        (Change(Op.UPDATE, WEB.ref, WEB, WEB, diff=("-  replicas: 2", "+  replicas: 3")),),
    ),
    prune_waves=((Change(Op.DELETE, LEGACY.ref, None, LEGACY),),),
    unchanged=(Change(Op.UNCHANGED, SAME.ref, SAME, SAME),),
)
EMPTY_PLAN = Plan(range=Range(HEAD, HEAD), apply_waves=(), prune_waves=())

DEPLOY_EVENTS: list[Event] = [
    RunStarted(command="deploy", environment="prod"),
    Note("uncommitted changes are ignored (revisions are read from Git): k8s/wip.yaml"),
    FileSkipped(
        Skipped(
            SourceLocation("k8s/kustomization.yaml", 1), "a kustomize or Helm file, not an object to apply"
        )
    ),
    StageStarted(Stage.VALIDATE),
    PlanReady(
        PLAN,
        (
            StepView("lock", None, None, "lock"),
            StepView("apply", "config", 2, "apply wave 4 (config): 2 objects"),
        ),
    ),
    StageStarted(Stage.APPLY, total=2),
    ObjectActed(Stage.APPLY, SETTINGS.ref, Action.CREATED, SETTINGS.source, "v1"),
    ObjectActed(Stage.APPLY, WEB.ref, Action.CONFIGURED, WEB.source, "apps/v1"),
    StageFinished(Stage.APPLY, Status.SUCCEEDED),
    StageStarted(Stage.PRUNE, total=1),
    ObjectActed(Stage.PRUNE, LEGACY.ref, Action.PRUNED, LEGACY.source, "v1"),
    StageFinished(Stage.PRUNE, Status.SUCCEEDED),
    TagRecorded(TAG, HEAD, pushed=True),
    RunFinished("prod", BASE, HEAD, None),
]


def run(output: str, events: Sequence[Event], **options: Any) -> tuple[Summary, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    sink = reporters.build(output, no_color=True, stdout=stdout, stderr=stderr, **options)
    for event in events:
        sink.handle(event)
    summary = sink.close()
    return summary, stdout.getvalue(), stderr.getvalue()


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture(autouse=True)
def fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")


def object_line(manifest: Manifest, action: str, error: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": manifest.api_version,
        "kind": manifest.ref.kind,
        "namespace": manifest.ref.namespace,
        "name": manifest.ref.name,
        "file": manifest.source.path,
        "line": manifest.source.line,
        "rendered": False,
        "action": action,
        "error": error,
        "health": None,
        "message": None,
        "other_managers": [],
    }


# --- JSON ------------------------------------------------------------------------------------------------


def test_json_document_of_a_deploy() -> None:
    summary, stdout, stderr = run("json", DEPLOY_EVENTS)
    assert summary.exit_code == ExitCode.OK
    assert json.loads(stdout) == {
        "env": "prod",
        "command": "deploy",
        "from": BASE,
        "to": HEAD,
        "tag": TAG,
        "pushed": True,
        "result": "deployed",
        "exit_code": 0,
        "counts": {
            "created": 1,
            "configured": 1,
            "unchanged": 1,
            "pruned": 1,
            "adopted": 0,
            "released": 0,
            "skipped": 0,
            "failed": 0,
        },
        "objects": [
            object_line(SAME, "unchanged"),
            object_line(SETTINGS, "created"),
            object_line(LEGACY, "pruned"),
            object_line(WEB, "configured"),
        ],
        "errors": [],
        "notes": [
            "uncommitted changes are ignored (revisions are read from Git): k8s/wip.yaml",
            "k8s/kustomization.yaml:1: skipped: a kustomize or Helm file, not an object to apply",
        ],
        "rollback": None,
        "steps": [
            {"step": "lock", "wave": None, "objects": None, "text": "lock"},
            {"step": "apply", "wave": "config", "objects": 2, "text": "apply wave 4 (config): 2 objects"},
        ],
        "cluster": None,  # these events never connected
        "warnings": [],
        "renderers": {},  # no rendered source
    }
    assert stdout.endswith("}\n")
    # stdout holds the JSON document only; notes still reach people on stderr.
    assert lines(stderr) == [
        "note: uncommitted changes are ignored (revisions are read from Git): k8s/wip.yaml",
        "note: k8s/kustomization.yaml:1: skipped: a kustomize or Helm file, not an object to apply",
    ]


def test_json_document_of_a_failed_validation() -> None:
    finding = Finding(
        SourceLocation("k8s/app.yaml", 4),
        "missing or not a string: every object needs a name",
        field_path="metadata.name",
    )
    duplicate = Finding(
        SourceLocation("k8s/b.yaml", 8, 1),
        "ConfigMap shop/a is defined twice: here and at k8s/a.yaml:1",
        ref=ObjectRef("", "ConfigMap", "shop", "a"),
        field_path="metadata.name",
    )
    events: list[Event] = [
        RunStarted("plan", "prod"),
        FindingFound(finding),
        FindingFound(duplicate),
        RunFailed("2 validation error(s): nothing was applied", "invalid-manifest", 3),
        RunFinished("prod", BASE, HEAD, None),
    ]
    summary, stdout, _ = run("json", events)
    document = json.loads(stdout)
    assert document["result"] == "failed"
    assert document["exit_code"] == 3
    assert document["objects"] == []
    assert document["errors"] == [
        {
            "reference": "invalid-manifest",
            "message": "missing or not a string: every object needs a name",
            "file": "k8s/app.yaml",
            "line": 4,
            "rendered": False,
            "field": "metadata.name",
            "object": None,
            "hint": None,
        },
        {
            "reference": "invalid-manifest",
            "message": "ConfigMap shop/a is defined twice: here and at k8s/a.yaml:1",
            "file": "k8s/b.yaml",
            "line": 8,
            "rendered": False,
            "field": "metadata.name",
            "object": "ConfigMap shop/a",
            "hint": None,
        },
        {
            "reference": "invalid-manifest",
            "message": "2 validation error(s): nothing was applied",
            "file": None,
            "line": None,
            "rendered": False,
            "field": None,
            "object": None,
            "hint": None,
        },
    ]
    assert summary.exit_code == 3


def test_json_document_names_the_renderers_of_rendered_sources() -> None:
    versions = {"kustomize": "v5.8.2", "helm": "v3.21.4"}
    _, stdout, _ = run("json", [DEPLOY_EVENTS[0], RenderersFound(versions), *DEPLOY_EVENTS[1:]])
    assert json.loads(stdout)["renderers"] == versions


def test_json_document_of_an_apply_failure() -> None:
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        PlanReady(PLAN),
        ObjectActed(Stage.APPLY, SETTINGS.ref, Action.CREATED, SETTINGS.source, "v1"),
        ObjectActed(
            Stage.APPLY, WEB.ref, Action.FAILED, WEB.source, "apps/v1", error="admission webhook denied"
        ),
        RunFailed("1 object(s) failed to apply; no tag was created", "apply-failed", 1),
    ]
    _, stdout, _ = run("json", events)
    document = json.loads(stdout)
    assert document["result"] == "failed"
    assert document["exit_code"] == 1
    assert document["tag"] is None
    assert document["pushed"] is False
    assert (document["counts"]["created"], document["counts"]["failed"]) == (1, 1)
    assert object_line(WEB, "failed", "admission webhook denied") in document["objects"]
    assert [e["reference"] for e in document["errors"]] == ["apply-failed", "apply-failed"]
    assert document["errors"][0] == {
        "reference": "apply-failed",
        "message": "admission webhook denied",
        "file": "k8s/app.yaml",
        "line": 9,
        "rendered": False,
        "field": None,
        "object": "Deployment.apps shop/web",
        "hint": None,
    }


def test_json_document_of_a_plan_without_changes() -> None:
    events: list[Event] = [
        RunStarted("plan", "prod"),
        Note(f"nothing to deploy: deployed/prod already points to {HEAD[:12]}"),
        PlanReady(EMPTY_PLAN),
        RunFinished("prod", HEAD, HEAD, None),
    ]
    summary, stdout, _ = run("json", events, pending_exit_code=10)
    document = json.loads(stdout)
    assert (document["result"], document["exit_code"], document["from"], document["to"]) == (
        "no-changes",
        0,
        HEAD,
        HEAD,
    )
    assert summary.exit_code == ExitCode.OK


# --- text ------------------------------------------------------------------------------------------------


def test_text_of_a_deploy() -> None:
    summary, stdout, stderr = run("text", DEPLOY_EVENTS)
    assert summary.exit_code == 0
    assert lines(stdout) == [
        "111111111111..222222222222",
        "action  object                    file",
        "create  ConfigMap shop/settings   k8s/app.yaml:1",
        "update  Deployment.apps shop/web  k8s/app.yaml:9",
        "prune   Service shop/legacy       k8s/old.yaml:1",
        "created ConfigMap shop/settings",
        "configured Deployment.apps shop/web",
        "pruned Service shop/legacy",
        f"tagged {TAG} and pushed it",
        "✓ deployed 222222222222 to prod: 1 created, 1 configured, 1 unchanged, 1 pruned",
    ]
    assert lines(stderr) == [
        "note: uncommitted changes are ignored (revisions are read from Git): k8s/wip.yaml",
        "note: k8s/kustomization.yaml:1: skipped: a kustomize or Helm file, not an object to apply",
    ]
    assert "\x1b[" not in stdout + stderr


def test_text_of_a_deploy_that_applied_nothing_says_so() -> None:
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        PlanReady(Plan(range=Range(BASE, HEAD), apply_waves=(), prune_waves=())),
        TagRecorded(TAG, HEAD, pushed=False),
        RunFinished("prod", BASE, HEAD, None),
    ]
    _, stdout, _ = run("text", events)
    assert lines(stdout)[-1] == "✓ deployed 222222222222 to prod: nothing applied"


def test_text_with_diffs_and_unchanged_objects() -> None:
    events: list[Event] = [RunStarted("plan", "prod"), PlanReady(PLAN)]
    summary, stdout, _ = run("text", events, show_diff=True, verbose=1)
    assert lines(stdout) == [
        "111111111111..222222222222",
        "action     object                    file",
        "create     ConfigMap shop/settings   k8s/app.yaml:1",
        "update     Deployment.apps shop/web  k8s/app.yaml:9",
        "prune      Service shop/legacy       k8s/old.yaml:1",
        "unchanged  ConfigMap shop/same       k8s/same.yaml:1",
        "--- ConfigMap shop/settings",
        "@@ -0,0 +1 @@",
        "+kind: ConfigMap",
        "--- Deployment.apps shop/web",
        "-  replicas: 2",
        "+  replicas: 3",
        "plan for prod: 1 created, 1 configured, 1 unchanged, 1 pruned",
    ]
    assert summary.result == "planned"


def test_text_of_a_first_full_deploy_plan() -> None:
    plan = Plan(
        range=Range(None, HEAD),
        apply_waves=((Change(Op.CREATE, NAMESPACE.ref, NAMESPACE),),),
        prune_waves=(),
        full=True,
    )
    _, stdout, _ = run("text", [RunStarted("plan", "prod"), PlanReady(plan)])
    assert lines(stdout)[:3] == [
        "(first deploy)..222222222222 (full set)",
        "action  object          file",
        "create  Namespace shop  k8s/ns.yaml:1",
    ]


def test_text_of_a_plan_on_a_colour_terminal_has_the_same_columns_with_styles() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=120)
    reporter = HumanReporter(console, Console(file=io.StringIO()), show_diff=False)
    for event in (RunStarted("plan", "prod"), PlanReady(PLAN)):
        reporter.handle(event)
    styled = out.getvalue()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", styled)
    assert lines(plain)[1:5] == [
        "action  object                    file",
        "create  ConfigMap shop/settings   k8s/app.yaml:1",
        "update  Deployment.apps shop/web  k8s/app.yaml:9",
        "prune   Service shop/legacy       k8s/old.yaml:1",
    ]
    assert "\x1b[1maction  object" in styled  # a bold header
    assert "\x1b[32mcreate\x1b[0m" in styled  # the action in its colour, the rest not
    assert "\x1b[31mprune" in styled
    assert "\x1b[2mk8s/app.yaml:9\x1b[0m" in styled  # the file dimmed


def test_a_terminal_shows_a_progress_bar_while_applying_and_a_table_while_waiting() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    reporter = HumanReporter(console, Console(file=io.StringIO()), show_diff=False)
    ref = ObjectRef("apps", "Deployment", "shop", "web")
    reporter.handle(StageStarted(Stage.APPLY, total=2))
    reporter.handle(ObjectActed(Stage.APPLY, ref, Action.CONFIGURED))
    reporter.handle(ObjectActed(Stage.APPLY, ObjectRef("", "Service", "shop", "web"), Action.CREATED))
    shown_while_applying = out.getvalue()
    reporter.handle(StageFinished(Stage.APPLY, Status.SUCCEEDED))
    reporter.handle(StageStarted(Stage.WAIT))
    reporter.handle(HealthChanged(ref, "InProgress", "1 of 2 replicas ready", 3.0))
    reporter.handle(StageFinished(Stage.WAIT, Status.SUCCEEDED))
    assert "apply" in shown_while_applying and "2/2" in out.getvalue()  # the bar: label, done of total
    assert "object" in out.getvalue() and "health" in out.getvalue()  # the live table's header
    assert (
        "Deployment.apps shop/web: InProgress: 1 of 2 replicas ready (3s)" in out.getvalue()
    )  # left when done


def test_text_of_a_plan_without_changes() -> None:
    events: list[Event] = [RunStarted("plan", "prod"), PlanReady(EMPTY_PLAN)]
    _, stdout, stderr = run("text", events)
    assert lines(stdout) == ["222222222222..222222222222", "✓ nothing to deploy to prod"]
    assert stderr == ""


def test_text_of_findings_goes_to_stderr_with_the_field() -> None:
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        FindingFound(
            Finding(SourceLocation("k8s/app.yaml", 4), "a [bracketed] message", field_path="metadata.name")
        ),
        FindingFound(Finding(SourceLocation("k8s/b.yaml", 2), "invalid YAML: duplicate key 'a'")),
        RunFailed("2 validation error(s): nothing was applied", "invalid-manifest", 3),
    ]
    summary, stdout, stderr = run("text", events)
    assert stdout == ""
    assert lines(stderr) == [
        "error: k8s/app.yaml:4: a [bracketed] message (field metadata.name)",
        "error: k8s/b.yaml:2: invalid YAML: duplicate key 'a'",
        "error: 2 validation error(s): nothing was applied",
        "✗ deploy of prod failed (exit code 3)",
    ]
    assert summary.exit_code == 3


def test_text_of_a_dry_run_rejection() -> None:
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        PlanReady(PLAN),
        ObjectActed(
            Stage.DRY_RUN, SETTINGS.ref, Action.FAILED, SETTINGS.source, "v1", error="field is immutable"
        ),
        RunFailed("the server-side dry-run rejected changes: nothing was applied", "dry-run-rejected", 4),
    ]
    summary, _, stderr = run("text", events)
    assert lines(stderr) == [
        "✗ dry-run failed: k8s/app.yaml:1: ConfigMap shop/settings: field is immutable",
        "error: the server-side dry-run rejected changes: nothing was applied",
        "✗ deploy of prod failed (exit code 4): 1 unchanged, 2 skipped, 1 failed",
    ]
    assert summary.exit_code == 4


def test_text_of_a_run_failure_with_a_location_and_a_hint() -> None:
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        RunFailed(
            "environments.prod.namepsace: unknown key 'namepsace'",
            "invalid-config",
            2,
            source=SourceLocation("gitops-push.yaml", 4),
            hint="check the spelling",
        ),
    ]
    _, stdout, stderr = run("text", events)
    assert stdout == ""
    assert lines(stderr) == [
        "error: gitops-push.yaml:4: environments.prod.namepsace: unknown key 'namepsace'",
        "hint: check the spelling",
        "✗ deploy of prod failed (exit code 2)",
    ]


def test_text_with_json_output_keeps_stdout_for_json() -> None:
    events: list[Event] = [*DEPLOY_EVENTS[:5], RunFailed("boom", "error", 1, hint="retry")]
    _, stdout, stderr = run("json", events)
    assert json.loads(stdout)["exit_code"] == 1
    assert "error: boom" in lines(stderr)
    assert "hint: retry" in lines(stderr)
    assert "111111111111..222222222222" not in stdout + stderr  # the plan table is for the text output only


# --- exit codes --------------------------------------------------------------------------------------------

FAILED_APPLY = ObjectActed(Stage.APPLY, WEB.ref, Action.FAILED, WEB.source, "apps/v1", error="denied")
FAILED_DRY_RUN = ObjectActed(Stage.DRY_RUN, WEB.ref, Action.FAILED, WEB.source, "apps/v1", error="invalid")
FINDING = FindingFound(Finding(SourceLocation("k8s/app.yaml", 1), "bad"))


@pytest.mark.parametrize(
    ("events", "detailed", "code"),
    [
        pytest.param([RunStarted("deploy", "prod"), FINDING], False, 3, id="findings"),
        pytest.param(
            [RunStarted("deploy", "prod"), PlanReady(PLAN), FAILED_DRY_RUN], False, 4, id="dry-run-failed"
        ),
        pytest.param(
            [RunStarted("deploy", "prod"), PlanReady(PLAN), FAILED_APPLY], False, 1, id="apply-failed"
        ),
        pytest.param(
            [RunStarted("deploy", "prod"), PlanReady(PLAN), RunFailed("tag race", "tag-race", 5)],
            False,
            5,
            id="run-failed-5",
        ),
        pytest.param([RunStarted("plan", "prod"), PlanReady(PLAN)], True, 10, id="detailed-pending"),
        pytest.param([RunStarted("plan", "prod"), PlanReady(EMPTY_PLAN)], True, 0, id="detailed-empty"),
        pytest.param([RunStarted("plan", "prod"), PlanReady(PLAN)], False, 0, id="pending-not-detailed"),
        pytest.param(DEPLOY_EVENTS, False, 0, id="clean-deploy"),
        pytest.param([FINDING, FAILED_DRY_RUN, FAILED_APPLY], False, 3, id="findings-win"),
        pytest.param([FAILED_DRY_RUN, FAILED_APPLY], False, 4, id="rejection-before-apply-failure"),
        pytest.param([FINDING, RunFailed("race", "tag-race", 5)], False, 5, id="run-failure-wins"),
    ],
)
def test_exit_code(events: list[Event], detailed: bool, code: int) -> None:
    summary, _, _ = run("json", events, pending_exit_code=10 if detailed else None)
    assert summary.exit_code == code
    text_summary, _, _ = run("text", events, pending_exit_code=10 if detailed else None)
    assert text_summary.exit_code == code


# --- status ------------------------------------------------------------------------------------------------

PATCHED = ForeignFields("kubectl-patch", (".data.EXTRA",))
DRIFT_PLAN = Plan(
    range=Range(BASE, BASE, "deployed/prod/20231231T000000Z"),
    apply_waves=((Change(Op.CREATE, SETTINGS.ref, SETTINGS), Change(Op.UPDATE, WEB.ref, WEB, WEB)),),
    prune_waves=((Change(Op.DELETE, LEGACY.ref, None, LEGACY),),),
    unchanged=(Change(Op.UNCHANGED, SAME.ref, SAME, SAME, others=(PATCHED,)),),
)
ONLY_OTHERS = Plan(
    range=Range(BASE, BASE, "deployed/prod/20231231T000000Z"),
    apply_waves=(),
    prune_waves=(),
    unchanged=(Change(Op.UNCHANGED, SAME.ref, SAME, SAME, others=(PATCHED,)),),
)


def test_json_of_status_speaks_of_drift_and_names_other_managers() -> None:
    events: list[Event] = [RunStarted("status", "prod"), PlanReady(DRIFT_PLAN)]
    summary, stdout, _ = run("json", events, pending_exit_code=int(ExitCode.DRIFT))
    document = json.loads(stdout)
    actions = {o["name"]: o["action"] for o in document["objects"]}
    assert actions == {"settings": "missing", "web": "drifted", "legacy": "extra", "same": "unchanged"}
    assert document["counts"] == {
        "unchanged": 1,
        "skipped": 0,
        "failed": 0,
        "drifted": 1,
        "missing": 1,
        "extra": 1,
    }
    same = next(o for o in document["objects"] if o["name"] == "same")
    assert same["other_managers"] == [{"manager": "kubectl-patch", "fields": [".data.EXTRA"]}]
    assert (document["exit_code"], summary.exit_code) == (6, ExitCode.DRIFT)


def test_fields_of_other_managers_alone_are_drift_for_status() -> None:
    events: list[Event] = [RunStarted("status", "prod"), PlanReady(ONLY_OTHERS)]
    summary, stdout, _ = run("text", events, pending_exit_code=int(ExitCode.DRIFT))
    assert summary.exit_code == ExitCode.DRIFT
    assert lines(stdout)[-3:] == [
        "fields set by other managers (not in Git):",
        "  ConfigMap shop/same: .data.EXTRA (by kubectl-patch)",
        "drift in prod: 0 object(s) differ from deployed/prod/20231231T000000Z, 1 carry fields of other managers",
    ]
    clean, _, _ = run("json", [RunStarted("status", "prod"), PlanReady(EMPTY_PLAN)], pending_exit_code=6)
    assert clean.exit_code == ExitCode.OK


def test_every_exit_code_has_a_summary_that_gives_it() -> None:
    produced = {
        Summary(problems=[]).exit_code,
        Summary(failure_code=ExitCode.USAGE).exit_code,
        Summary(failure_code=ExitCode.RACE).exit_code,
        Summary(plan=ONLY_OTHERS, pending_exit_code=ExitCode.DRIFT).exit_code,
        Summary(failure_code=ExitCode.TERMINATED).exit_code,
    }
    assert produced == {ExitCode.OK, ExitCode.USAGE, ExitCode.RACE, ExitCode.DRIFT, ExitCode.TERMINATED}
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 10, 130, 143]


def test_the_result_word_follows_the_exit_code() -> None:
    assert run("json", DEPLOY_EVENTS)[0].result == "deployed"
    assert (
        run("json", [RunStarted("plan", "prod"), PlanReady(PLAN)], pending_exit_code=10)[0].result
        == "planned"
    )
    assert run("json", [RunStarted("deploy", "prod"), PlanReady(PLAN)])[0].result == "planned"
    assert run("json", [RunStarted("deploy", "prod"), PlanReady(EMPTY_PLAN)])[0].result == "no-changes"
    assert run("json", [RunStarted("deploy", "prod"), FAILED_APPLY])[0].result == "failed"


def test_text_of_objects_left_unchanged_or_skipped() -> None:
    """Every Action can arrive in an ObjectActed event; the text reporter prints each one."""
    events: list[Event] = [
        RunStarted("deploy", "prod"),
        ObjectActed(Stage.APPLY, SAME.ref, Action.UNCHANGED, SAME.source, "v1"),
        ObjectActed(Stage.PRUNE, LEGACY.ref, Action.SKIPPED, LEGACY.source, "v1"),
    ]
    _, stdout, _ = run("text", events)
    assert lines(stdout)[:2] == ["unchanged ConfigMap shop/same", "skipped Service shop/legacy"]


def test_json_document_of_a_kind_both_cluster_wide_and_namespaced() -> None:
    """Offline, a custom kind's scope is unknown: one object may name a namespace and another none."""
    cluster_wide = manifest("example.com/v1", "Widget", "a", "k8s/w.yaml", 1, namespace=None)
    namespaced = manifest("example.com/v1", "Widget", "b", "k8s/w.yaml", 6)
    plan = Plan(
        range=Range(None, HEAD),
        apply_waves=(
            (Change(Op.CREATE, cluster_wide.ref, cluster_wide),),
            (Change(Op.CREATE, namespaced.ref, namespaced),),
        ),
        prune_waves=(),
    )
    _, stdout, _ = run("json", [RunStarted("plan", "prod"), PlanReady(plan)])
    document = json.loads(stdout)
    assert [(o["namespace"], o["name"]) for o in document["objects"]] == [(None, "a"), ("shop", "b")]


def test_events_sent_from_many_threads_at_once_each_print_one_whole_line() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    sink = reporters.build("text", no_color=True, stdout=stdout, stderr=stderr)
    sink.handle(RunStarted("deploy", "prod"))

    def send(worker: int) -> None:
        for n in range(300):
            ref = ObjectRef("", "ConfigMap", "shop", f"c-{worker}-{n}")
            sink.handle(ObjectActed(Stage.APPLY, ref, Action.CREATED, SETTINGS.source, "v1"))

    threads = [threading.Thread(target=send, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = sink.close()
    printed = [line for line in lines(stdout.getvalue()) if line.startswith("created")]
    expected = {f"created ConfigMap shop/c-{w}-{n}" for w in range(8) for n in range(300)}
    assert sorted(printed) == sorted(expected)
    assert len(summary.objects) == 8 * 300


def test_verbose_text_lists_the_steps_of_the_plan() -> None:
    _, stdout, _ = run("text", DEPLOY_EVENTS, verbose=1)
    assert "steps:\n   1. lock\n   2. apply wave 4 (config): 2 objects\n" in stdout
    _, quiet_default, _ = run("text", DEPLOY_EVENTS)
    assert "steps:" not in quiet_default
