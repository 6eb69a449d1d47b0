"""Every benchmark of issue #6 (and issue 15's rendered sources), one table: `nox -s bench` runs this.

    python benchmarks/run_all.py [--quick] [--skip-cluster] [--profile] [--json FILE] [--update-docs]

Runs bench_plan.py, bench_validate.py (reusing bench_plan's `plan --all` timing, the same command),
bench_render.py (plan --offline on an overlay against the same objects plain; it builds kustomize
and helm with tools/build-renderers, cached) and bench_cluster.py (which starts and stops its own
devcluster), then prints all their figures as
one table with the machine they were measured on. `--update-docs` writes that table, the machine and
the command line into docs/benchmarks.md between its `results` markers; `--json` writes the figures.
A benchmark that fails is reported and the others still run; the exit code is then 1. A missed
target is a result, not a failure: the exit code stays 0.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cluster
import bench_plan
import bench_render
import bench_validate
from common import ROOT, Report

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results: start -->", "<!-- results: end -->"


def update_docs(report: Report, command: str, seconds: float) -> None:
    text = DOCS.read_text()
    if START not in text or END not in text:
        raise RuntimeError(f"{DOCS} has no {START} ... {END} section")
    body = "\n".join(
        [
            START,
            "",
            f"Measured with `{command}` in {seconds / 60:.0f} minutes on: {report.header()}.",
            "",
            report.table(markdown=True),
            "",
            END,
        ]
    )
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOCS.write_text(before + body + after)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke test, not figures")
    parser.add_argument("--skip-cluster", action="store_true", help="no devcluster benchmark")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables of the plans")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--update-docs", action="store_true", help=f"write the table into {DOCS.name}")
    args = parser.parse_args()
    report = Report()
    runs = {
        "plan": lambda: bench_plan.run(
            report, runs=3 if args.quick else 10, all_runs=1 if args.quick else 3, profile=args.profile
        ),
        "validate": lambda: bench_validate.run(report, runs=2 if args.quick else 5),
        "render": lambda: bench_render.run(report, rounds=2 if args.quick else 7, per_source=not args.quick),
    }
    if not args.skip_cluster:
        runs["cluster"] = lambda: bench_cluster.run(report, rounds=1 if args.quick else 3)
    failed = run_each(runs)
    command = "python benchmarks/run_all.py " + " ".join(sys.argv[1:])
    print(f"\nissue #6 benchmarks ({command.strip()})\n{report.header()}\n")
    print(report.table())
    for name in failed:
        print(f"\n{name}: FAILED (see above)")
    if args.json:
        args.json.write_text(report.to_json())
    if args.update_docs and not failed:
        update_docs(report, "nox -s bench", time.perf_counter() - STARTED)
        print(f"\nwrote the table into {DOCS}")
    return 1 if failed else 0


def run_each(runs: dict[str, Callable[[], None]]) -> list[str]:
    failed = []
    for name, run in runs.items():
        print(f"--- {name} ---", file=sys.stderr, flush=True)
        try:
            run()
        except Exception:  # one benchmark's failure must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
    return failed


STARTED = time.perf_counter()

if __name__ == "__main__":
    sys.exit(main())
