"""Every benchmark of issues #6, 15 and #16, one table: `nox -s bench` runs this.

    python benchmarks/run_all.py [--quick] [--skip-cluster] [--profile] [--json FILE] [--update-docs]

Runs bench_plan.py, bench_validate.py (which times `plan --all` again, between kubeconform's runs),
bench_render.py (plan --offline on an overlay against the same objects plain; it builds kustomize
and helm with tools/build-renderers, cached) and bench_cluster.py (which starts and stops its own
devcluster, and measures at several network round-trip times), then prints all their figures as
one table with the machine they were measured on. `--update-docs` writes that table, the machine and
the command line into docs/benchmarks.md between its `results` markers, and redraws the chart of
deploy times against the round trip (docs/img/benchmarks-latency.png); `--json` writes the figures.
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
import chart
from common import ROOT, Report

DOCS = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "img" / "benchmarks-latency.png"
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
    parser.add_argument(
        "--cluster-name",
        default=bench_cluster.CLUSTER,
        help="the devcluster bench_cluster.py starts and stops",
    )
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
    latency: list[bench_cluster.Latency] = []
    if not args.skip_cluster:
        runs["cluster"] = lambda: latency.extend(
            bench_cluster.run(report, rounds=1 if args.quick else 3, cluster_name=args.cluster_name)
        )
    failed = run_each(runs)
    command = "python benchmarks/run_all.py " + " ".join(options_shown(sys.argv[1:]))
    print(f"\nissue #6 benchmarks ({command.strip()})\n{report.header()}\n")
    print(report.table())
    for name in failed:
        print(f"\n{name}: FAILED (see above)")
    if args.json:
        args.json.write_text(report.to_json())
    if args.update_docs and not failed:
        update_docs(report, command.strip(), time.perf_counter() - STARTED)
        print(f"\nwrote the table into {DOCS}")
        if latency:
            series = bench_cluster.chart_series(latency)
            chart.latency_chart(series, CHART, objects=bench_cluster.OBJECTS, machine=report.header())
            print(f"drew {CHART}")
    return 1 if failed else 0


def options_shown(argv: list[str]) -> list[str]:
    """The command line as the results line shows it: a file name (--json FILE) says nothing about the
    figures and may name a private path, so it is left out."""
    shown, hide_next = [], False
    for arg in argv:
        if hide_next:
            shown.append("FILE")
        elif arg.startswith("--json="):
            shown.append("--json=FILE")
        else:
            shown.append(arg)
        hide_next = arg == "--json"
    return shown


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
