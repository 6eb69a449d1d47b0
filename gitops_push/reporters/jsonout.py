"""`--output json`: one JSON document on stdout when the run ends; the stable machine interface.

Shape (documented in docs/output-json.md, pinned by tests):

    {"env": str, "command": str, "from": str|null, "to": str|null, "tag": str|null, "pushed": bool,
     "result": "deployed"|"planned"|"no-changes"|"failed", "exit_code": int,
     "counts": {"created": n, "configured": n, "unchanged": n, "pruned": n, "skipped": n, "failed": n},
     "objects": [{"apiVersion", "kind", "namespace", "name", "file", "line", "rendered", "action", "error",
                  "health", "message", "other_managers": [{"manager": str, "fields": [str]}]}],

`status` uses the actions (and counts) drifted, missing, extra and unchanged instead of created,
configured and pruned.
`other_managers` (status only; empty otherwise) lists fields other field managers set on the object
that Git does not.
     "errors": [{"reference", "message", "file", "line", "rendered", "field", "object", "hint"}],
     "notes": [str], "rollback": null | {"ok": bool, "message": str},
     "steps": [{"step": str, "wave": str|null, "objects": int|null, "text": str}],
     "cluster": null | {"server": str, "context": str, "insecure": bool}, "warnings": [str],
     "renderers": {tool: version}}  (the kustomize and helm of rendered sources; {} without any)

Secret values never reach it: objects carry no bodies, and error texts were masked by the stages.
JSON escapes control characters and (ASCII output) every other character outside ASCII; `##[`, which a
GitHub Actions runner reads as a command anywhere in a line, is written as `##\u005b`, the same string.
"""

from __future__ import annotations

import json
from typing import IO, Any

from gitops_push.events import Connected, Event
from gitops_push.reporters.stats import Summary


class JsonReporter:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def handle(self, event: Event) -> None:
        pass  # everything is in the Summary at close

    def close(self, summary: Summary) -> None:
        text = json.dumps(document(summary), indent=2, ensure_ascii=True)
        self._stream.write(text.replace("##[", "##\\u005b") + "\n")
        self._stream.flush()


def document(summary: Summary) -> dict[str, Any]:
    return {
        "env": summary.environment,
        "command": summary.command,
        "from": summary.base,
        "to": summary.head,
        "tag": summary.tag,
        "pushed": summary.pushed,
        "result": summary.result,
        "exit_code": int(summary.exit_code),
        "counts": summary.counts(),
        "objects": [
            {
                "apiVersion": line.api_version,
                "kind": line.ref.kind,
                "namespace": line.ref.namespace,
                "name": line.ref.name,
                "file": line.source.path if line.source else None,
                "line": line.source.line if line.source else None,
                "rendered": bool(line.source and not line.source.in_file),
                "action": line.action.value,
                "error": line.error,
                "health": line.health,
                "message": line.message,
                "other_managers": [{"manager": o.manager, "fields": list(o.fields)} for o in line.others],
            }
            for line in sorted(summary.objects.values(), key=lambda line: line.ref)
        ],
        "errors": [
            {
                "reference": p.reference,
                "message": p.message,
                "file": p.source.path if p.source else None,
                "line": p.source.line if p.source else None,
                "rendered": bool(p.source and not p.source.in_file),
                "field": p.field_path or None,
                "object": str(p.ref) if p.ref else None,
                "hint": p.hint,
            }
            for p in summary.problems
        ],
        "notes": summary.notes,
        "steps": [
            {"step": step.step, "wave": step.wave, "objects": step.objects, "text": step.text}
            for step in summary.steps
        ],
        "rollback": {"ok": summary.rollback[0], "message": summary.rollback[1]} if summary.rollback else None,
        "cluster": _cluster(summary.cluster),
        "renderers": summary.renderers,
        "warnings": summary.warnings,
    }


def _cluster(cluster: Connected | None) -> dict[str, Any] | None:
    if cluster is None:
        return None
    return {"server": cluster.server, "context": cluster.context, "insecure": cluster.insecure}
