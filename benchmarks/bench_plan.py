"""Plan speed: does `plan` cost what the change costs, not what the repository holds?

    python benchmarks/bench_plan.py [--runs 10] [--all-runs 3] [--profile]

1. `gitops-push plan --offline --env bench --path k8s` in the 10,000-object repository, in the
   100-object one (benchmarks/generate.py: the same 20 changed objects behind HEAD, 1,000 commits of
   history each) and in the 100-object one with a deploy tag on each of its 996 commits before the
   change, run alternately RUNS times after one warm-up run each; median and spread of the
   wall-clock time of the whole process. Targets: large within 1.3x of small, and under 1 s; the
   996 tags within 1.3x of one (an environment gains a tag with every deploy). The same plan of the
   100 objects with 1 and with 996 deploy tags, each run in a fresh `git clone --depth 1 --no-tags`
   of the repository (a CI checkout: the run fetches the tags and the history it needs), after one
   untimed round. Target: within 1.3x.
2. `gitops-push plan --all --offline` in the 10,000-object repository: every object is loaded,
   validated and diffed. Throughput in objects/s (median of ALL_RUNS) and the peak RSS of one run
   (getrusage(RUSAGE_CHILDREN) of a helper process that runs only that command). Target: < 300 MB.
   The same with `-q` (the plan is not printed) separates printing the plan from the pipeline.

`--profile` adds a cProfile of each command (top functions by own time and by total time).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
from common import (
    Figure,
    Report,
    Timing,
    gitops_push_command,
    peak_rss_mb,
    print_report,
    profile_command,
    time_commands,
)

NAME = "plan"
RATIO_TARGET = 1.3
SECONDS_TARGET = 1.0
RSS_TARGET_MB = 300.0


def plan_argv(repo: generate.Generated, *extra: str) -> list[str]:
    return ["plan", "--offline", "--env", repo.environment, "--path", repo.manifests, *extra]


def check_counts(repo: generate.Generated) -> None:
    """The plan must see exactly the generated change: a fast wrong plan is no result."""
    out = subprocess.run(
        [*gitops_push_command(), *plan_argv(repo, "-o", "json")],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    counts = json.loads(out.stdout)["counts"]
    if counts["configured"] != len(repo.changed) or counts["created"] or counts["pruned"]:
        raise RuntimeError(f"plan in {repo.root} saw {counts}, not {len(repo.changed)} configured objects")


def time_in_ci_clones(
    repos: Mapping[str, generate.Generated], argv: Sequence[str], runs: int
) -> dict[str, Timing]:
    """Time `argv` in a fresh `git clone --depth 1 --no-tags` of each repository (what a CI job's
    checkout is; the clone untimed), the repositories in turn, after one untimed round."""
    with tempfile.TemporaryDirectory(prefix="bench-ci-clones-") as scratch:
        clones = itertools.count()

        def fresh_clone(origin: Path) -> Path:
            clone = Path(scratch) / f"clone-{next(clones)}"
            subprocess.run(
                ["git", "clone", "-q", "--depth", "1", "--no-tags", f"file://{origin}", str(clone)],
                check=True,
            )
            return clone

        commands: dict[str, tuple[Sequence[str], Callable[[], Path]]] = {}
        for name, repo in repos.items():
            origin = Path(scratch) / f"{name}.git"
            subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(origin)], check=True)
            commands[name] = (argv, functools.partial(fresh_clone, origin))
        return time_commands(commands, runs=runs)


def run(report: Report, *, runs: int = 10, all_runs: int = 3, profile: bool = False) -> None:
    large, small = generate.ensure(generate.LARGE), generate.ensure(generate.SMALL)
    history = generate.ensure(generate.HISTORY)
    tool = gitops_push_command()
    for repo in (large, small, history):
        check_counts(repo)
    timings = time_commands(
        {
            "large": ([*tool, *plan_argv(large)], large.path),
            "small": ([*tool, *plan_argv(small)], small.path),
            "history": ([*tool, *plan_argv(history)], history.path),
        },
        runs=runs,
    )
    big, little, tagged = timings["large"], timings["small"], timings["history"]
    ratio = big.median / little.median
    report.add(
        Figure(
            NAME,
            f"plan --offline, {large.objects:,} objects, {len(large.changed)} changed",
            big.median,
            "s",
            big.describe(),
            f"< {SECONDS_TARGET:g} s",
            big.median < SECONDS_TARGET,
        )
    )
    report.add(
        Figure(
            NAME,
            f"plan --offline, {small.objects:,} objects, {len(small.changed)} changed",
            little.median,
            "s",
            little.describe(),
        )
    )
    report.add(
        Figure(
            NAME,
            f"plan time, {large.objects:,} / {small.objects:,} objects",
            ratio,
            "x",
            "ratio of the medians (runs interleaved)",
            f"<= {RATIO_TARGET}x",
            ratio <= RATIO_TARGET,
        )
    )

    deploys = generate.HISTORY.deploys
    report.add(
        Figure(
            NAME,
            f"plan --offline, {small.objects:,} objects, {deploys:,} deploy tags",
            tagged.median,
            "s",
            tagged.describe(),
        )
    )
    tag_ratio = tagged.median / little.median
    report.add(
        Figure(
            NAME,
            f"plan time, {deploys:,} deploy tags / 1",
            tag_ratio,
            "x",
            f"{small.objects:,} objects; ratio of the medians (runs interleaved)",
            f"<= {RATIO_TARGET}x",
            tag_ratio <= RATIO_TARGET,
        )
    )

    in_ci = time_in_ci_clones(
        {"one": small, "many": history}, [*tool, *plan_argv(small)], runs=max(3, runs // 2)
    )
    for name, count in (("one", 1), ("many", deploys)):
        report.add(
            Figure(
                NAME,
                f"plan --offline in a fresh --depth 1 clone, {small.objects:,} objects, "
                f"{count:,} deploy tag{'' if count == 1 else 's'}",
                in_ci[name].median,
                "s",
                in_ci[name].describe(),
            )
        )
    ci_ratio = in_ci["many"].median / in_ci["one"].median
    report.add(
        Figure(
            NAME,
            f"plan time in a fresh --depth 1 clone, {deploys:,} deploy tags / 1",
            ci_ratio,
            "x",
            "ratio of the medians (clones interleaved; each run fetches the tags and the history it needs)",
            f"<= {RATIO_TARGET}x",
            ci_ratio <= RATIO_TARGET,
        )
    )

    everything = [*tool, *plan_argv(large, "--all")]
    full = time_commands(
        {"text": (everything, large.path), "quiet": ([*everything, "-q"], large.path)},
        runs=all_runs,
        warmup=0,  # long runs: the plans above have read the repository into the page cache already
    )
    text, quiet = full["text"], full["quiet"]
    report.add(
        Figure(
            NAME,
            f"plan --all --offline, {large.objects:,} objects",
            large.objects / text.median,
            "objects/s",
            f"{text.median:.1f} s: {text.describe()}",
        )
    )
    report.add(
        Figure(
            NAME,
            f"plan --all --offline -q, {large.objects:,} objects (no plan printed)",
            large.objects / quiet.median,
            "objects/s",
            f"{quiet.median:.1f} s: {quiet.describe()}",
        )
    )
    _, rss = peak_rss_mb(everything, cwd=large.path)
    report.add(
        Figure(
            NAME,
            f"plan --all --offline, {large.objects:,} objects: peak RSS",
            rss,
            "MB",
            "one run, getrusage(RUSAGE_CHILDREN).ru_maxrss",
            f"< {RSS_TARGET_MB:g} MB",
            rss < RSS_TARGET_MB,
        )
    )
    if profile:
        print(f"\n--- cProfile: plan --offline, {large.objects:,} objects ---")
        print(profile_command(plan_argv(large), cwd=large.path))
        print(f"\n--- cProfile: plan --all --offline, {large.objects:,} objects ---")
        print(profile_command(plan_argv(large, "--all"), cwd=large.path))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each plan (default 10)")
    parser.add_argument("--all-runs", type=int, default=3, help="timed runs of plan --all (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of each command")
    args = parser.parse_args()
    report = Report()
    run(report, runs=args.runs, all_runs=args.all_runs, profile=args.profile)
    print_report(report, "gitops-push plan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
