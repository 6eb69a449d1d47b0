"""`--junit FILE`: a JUnit XML report that Jenkins and GitLab read, written when the run ends.

One test suite per stage that ran (validate, dry-run, apply, wait, prune), one test case per object
in it: passed, or failed with the reason. Run-level failures (bad config, unreachable cluster, a tag
race) are one failed case of the suite `gitops-push`. Messages were masked by the stages already;
names and messages pass through `safe.printable()`, as XML 1.0 cannot hold most control characters
(ElementTree would write a file that Jenkins and GitLab refuse to read).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from gitops_push.events import (
    Event,
    FindingFound,
    HealthChanged,
    ObjectActed,
    PlanReady,
    RunFailed,
    Stage,
    StageFinished,
)
from gitops_push.model import Action, Op, SourceLocation
from gitops_push.reporters.safe import printable
from gitops_push.reporters.stats import Summary

SUITE_ORDER = ("validate", "dry-run", "apply", "wait", "prune", "rollback", "gitops-push")


@dataclass
class Case:
    name: str
    file: str = ""
    failure: str | None = None


@dataclass
class Suites:
    cases: dict[str, dict[str, Case]] = field(default_factory=dict)

    def put(self, suite: str, key: str, case: Case) -> None:
        cases = self.cases.setdefault(suite, {})
        if key not in cases or case.failure is not None:
            cases[key] = case


class JunitReporter:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._suites = Suites()
        self._dry_run_passed = False

    def handle(self, event: Event) -> None:
        match event:
            case FindingFound(finding=finding):
                name = str(finding.ref) if finding.ref else str(finding.source)
                message = finding.message + (f" (field {finding.field_path})" if finding.field_path else "")
                self._suites.put(
                    "validate", f"{name}@{finding.source}", Case(name, _file(finding.source), message)
                )
            case StageFinished(stage=Stage.DRY_RUN, status=status):
                self._dry_run_passed = status.value == "succeeded"
            case PlanReady(plan=plan):
                for change in plan.changes:
                    if change.op is Op.DELETE:
                        continue
                    case = Case(str(change.ref), _file(change.source))
                    self._suites.put("validate", str(change.ref), case)
                    if self._dry_run_passed:
                        self._suites.put("dry-run", str(change.ref), Case(case.name, case.file))
            case ObjectActed(stage=stage, ref=ref, action=action, source=source, error=error):
                failure = (error or "failed") if action is Action.FAILED else None
                self._suites.put(stage.value, str(ref), Case(str(ref), _file(source), failure))
            case HealthChanged(ref=ref, status=status, message=message):
                if status == "Current":
                    self._suites.put("wait", str(ref), Case(str(ref)))
            case RunFailed(message=message, reference=reference):
                self._suites.put("gitops-push", reference, Case(reference, "", message))
            case _:
                pass

    def close(self, summary: Summary) -> None:
        # The run itself is a case too, so a report is never empty (Jenkins fails on empty reports).
        outcome = (
            None if summary.exit_code in (0, summary.pending_exit_code) else f"exit code {summary.exit_code}"
        )
        self._suites.put(
            "gitops-push",
            summary.command or "run",
            Case(f"{summary.command} {summary.environment}", "", outcome),
        )
        root = ET.Element(
            "testsuites", name=printable(f"gitops-push {summary.command} {summary.environment}")
        )
        total = failed = 0
        for suite_name in sorted(
            self._suites.cases, key=lambda s: SUITE_ORDER.index(s) if s in SUITE_ORDER else 99
        ):
            cases = self._suites.cases[suite_name]
            failures = sum(1 for c in cases.values() if c.failure is not None)
            suite = ET.SubElement(
                root,
                "testsuite",
                name=suite_name,
                tests=str(len(cases)),
                failures=str(failures),
                errors="0",
                skipped="0",
            )
            for case in cases.values():
                element = ET.SubElement(
                    suite, "testcase", classname=f"gitops-push.{suite_name}", name=printable(case.name)
                )
                if case.file:
                    element.set("file", printable(case.file))
                if case.failure is not None:
                    text = printable(case.failure)
                    failure = ET.SubElement(element, "failure", message=text[:500])
                    failure.text = text
            total += len(cases)
            failed += failures
        root.set("tests", str(total))
        root.set("failures", str(failed))
        root.set("errors", "0")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(root).write(self._path, encoding="utf-8", xml_declaration=True)


def _file(source: SourceLocation | None) -> str:
    return source.path if source is not None and source.line > 0 else ""
