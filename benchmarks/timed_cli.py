"""Run the gitops-push command line with its stages timed: a measurement aid for bench_cluster.py.

    python benchmarks/timed_cli.py TIMES.json deploy --env bench --path k8s --no-wait

Runs `gitops-push ARGS...` in this process exactly as the console script does, and writes to
TIMES.json when each stage started and finished (perf_counter seconds from the start of this
process, the CPU seconds this process had used by then, and the wall-clock time of the start), taken
from the StageStarted and StageFinished events the pipeline sends its reporters, and the process's
peak resident set size. The reporters are wrapped, never changed: what the tool prints and
its exit code are the tool's own.
"""

from __future__ import annotations

import atexit
import datetime
import itertools
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
STARTED_AT = datetime.datetime.now(datetime.UTC).isoformat()


def main() -> int:
    out = Path(sys.argv[1])
    from gitops_push import reporters
    from gitops_push.events import StageFinished, StageStarted

    marks: list[dict[str, Any]] = []
    original = reporters.Reporters.handle

    def handle(self: reporters.Reporters, event: Any) -> None:
        if isinstance(event, StageStarted | StageFinished):
            marks.append(
                {
                    "event": "started" if isinstance(event, StageStarted) else "finished",
                    "stage": event.stage.value,
                    "at": time.perf_counter() - STARTED,
                    "cpu": time.process_time(),  # every thread's CPU seconds, from process start
                }
            )
        original(self, event)

    reporters.Reporters.handle = handle  # type: ignore[method-assign]
    from gitops_push.cli import entry

    def write_times() -> None:
        times = {
            "started_at": STARTED_AT,
            "total": time.perf_counter() - STARTED,
            "total_cpu": time.process_time(),
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "marks": marks,
        }
        out.write_text(json.dumps(times, indent=2))

    # An exit handler: the console script may end the process without unwinding (see `entry`).
    atexit.register(write_times)
    entry(args=sys.argv[2:], prog_name="gitops-push")  # exits, with the tool's own exit code
    return 0


def stage_seconds(times: dict[str, Any], stage: str) -> float:
    """From a TIMES.json document: seconds from a stage's first start to its last finish (0 if absent)."""
    starts = [m["at"] for m in times["marks"] if m["stage"] == stage and m["event"] == "started"]
    ends = [m["at"] for m in times["marks"] if m["stage"] == stage and m["event"] == "finished"]
    if not starts or not ends:
        return 0.0
    return float(max(ends) - min(starts))


def breakdown(times: dict[str, Any], *, cpu: bool = False) -> dict[str, float]:
    """The whole run cut at every stage event: {segment: seconds}, in order, summing to the total.
    Wall-clock seconds, or with CPU the CPU seconds the process used in each segment.

    A segment is named after the event that opens it: a stage's name from its start, "after STAGE"
    from its finish (work between stages, such as building the plan or writing the tag); "start" is
    interpreter start-up, imports, settings, the lock and the Git range, up to the first stage.
    """
    clock, total = ("cpu", "total_cpu") if cpu else ("at", "total")
    cuts = [("start", 0.0)]
    for mark in times["marks"]:
        name = mark["stage"] if mark["event"] == "started" else f"after {mark['stage']}"
        cuts.append((name, float(mark[clock])))
    cuts.append(("end", float(times[total])))
    result: dict[str, float] = {}
    for (name, at), (_, following) in itertools.pairwise(cuts):
        result[name] = result.get(name, 0.0) + following - at
    return result


if __name__ == "__main__":
    sys.exit(main())
