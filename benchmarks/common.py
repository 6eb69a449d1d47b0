"""Shared helpers of the benchmark scripts: timing loops, statistics, figures and the results table.

Not a benchmark itself. Every script in this folder reports `Figure`s, so `run_all.py` can print the
figures of all of them as one table (and write them as JSON for docs/benchmarks.md).
"""

from __future__ import annotations

import compileall
import datetime
import functools
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_RUNS = 100  # every timing loop is bounded, whatever the command line asks


def gitops_push_command() -> list[str]:
    """The gitops-push of the interpreter that runs the benchmark (the dev venv or a nox session)."""
    compile_bytecode()
    beside = Path(sys.executable).with_name("gitops-push")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gitops-push")
    if found:
        return [found]
    return [sys.executable, "-m", "gitops_push"]


@functools.cache
def compile_bytecode() -> None:
    """Compile the bytecode of the gitops_push package that the timed commands import, as pip does
    when it installs a package. An editable install run with PYTHONDONTWRITEBYTECODE set (as CI
    shells and the dev environment often are) would otherwise compile every module from source at
    every start: about 0.3 s that no installed copy pays."""
    spec = importlib.util.find_spec("gitops_push")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def cache_root() -> Path:
    """Where generated repositories and built tools are kept between runs (outside the checkout)."""
    if os.environ.get("GITOPS_PUSH_CACHE"):
        return Path(os.environ["GITOPS_PUSH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-push"


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one thing (and the CPU seconds they used, when known)."""

    samples: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how much the runs disagree."""
        return (self.high - self.low) / self.median if self.median else 0.0

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None

    def describe(self, unit: str = "s") -> str:
        scale = 1000.0 if unit == "ms" else 1.0
        cpu = f"; CPU {self.cpu_median * scale:.3g} {unit}" if self.cpu_median is not None else ""
        return (
            f"median of {len(self.samples)}; min {self.low * scale:.3g}, max {self.high * scale:.3g} {unit}"
            f" (spread {self.spread:.0%}){cpu}"
        )


def children_cpu() -> float:
    """User + system CPU seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_once(argv: Sequence[str], cwd: Path | None, env: Mapping[str, str] | None) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the process and its children) of one run."""
    cpu = children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed, children_cpu() - cpu


def time_commands(
    commands: Mapping[str, tuple[Sequence[str], Path | Callable[[], Path] | None]],
    *,
    runs: int,
    warmup: int = 1,
    env: Mapping[str, str] | None = None,
) -> dict[str, Timing]:
    """Time commands {name: (argv, cwd)} `runs` times each, interleaved so that a burst of load from
    elsewhere on the machine hits all of them alike; `warmup` untimed rounds first. A callable cwd
    makes the folder for each run (untimed)."""
    rounds = max(1, min(runs, MAX_RUNS))
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for index in range(min(warmup, MAX_RUNS) + rounds):
        for name, (argv, cwd) in commands.items():
            measured = _run_once(argv, cwd() if callable(cwd) else cwd, env)
            if index >= warmup:
                samples[name].append(measured)
    return {
        name: Timing(tuple(wall for wall, _ in values), tuple(cpu for _, cpu in values))
        for name, values in samples.items()
    }


def profile_command(argv: Sequence[str], *, cwd: Path | None, top: int = 20) -> str:
    """cProfile one run of `python -m gitops_push ARGV...`: the top functions by own and by total time."""
    import io
    import pstats
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.out"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "gitops_push", *argv],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        text = io.StringIO()
        stats = pstats.Stats(str(out), stream=text)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def peak_rss_mb(argv: Sequence[str], *, cwd: Path | None = None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run, measured in a fresh helper process.

    RUSAGE_CHILDREN is a high-water mark over every child a process ever waited for, so a helper
    process that runs only this command reports this command's peak alone (its git children included).
    """
    helper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "t = time.perf_counter() - t\n"
        "print(code, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", helper, *argv], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.split()
    code, seconds, kilobytes = int(out[0]), float(out[1]), int(out[2])
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}")
    return seconds, kilobytes / 1024.0


@dataclass(frozen=True)
class Figure:
    """One reported number: what it is, its value, how it was measured and its target, if any."""

    benchmark: str
    name: str
    value: float
    unit: str
    detail: str = ""
    target: str = ""
    met: bool | None = None

    def shown(self) -> str:
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "%":
            return f"{self.value:.0f} %"
        if self.unit in ("objects/s", "requests/s", "requests"):
            return f"{self.value:,.0f} {self.unit}"
        if self.unit == "MB":
            return f"{self.value:.0f} MB"
        if self.unit == "s":
            return f"{self.value:.3f} s" if self.value < 10 else f"{self.value:.1f} s"
        if self.unit == "ms":
            return f"{self.value:.1f} ms"
        return f"{self.value:g} {self.unit}"


@dataclass
class Report:
    """The figures of one or more benchmarks, with the machine they were measured on."""

    figures: list[Figure] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=lambda: machine_info())

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def table(self, *, markdown: bool = False) -> str:
        head = ("benchmark", "figure", "value", "target", "met", "how")
        rows = [
            (
                f.benchmark,
                f.name,
                f.shown(),
                f.target or "-",
                {True: "yes", False: "MISSED", None: "-"}[f.met],
                f.detail,
            )
            for f in self.figures
        ]
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
            return "\n".join(lines)
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
        text = []
        for row in [head, *rows]:
            cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
            text.append("  ".join([*cells, row[-1]]).rstrip())
        return "\n".join(text)

    def header(self) -> str:
        m = self.machine
        # The readings after the run are taken once: the header is printed, drawn and written, and
        # each would otherwise run the speed check again and say something else.
        if "speed_after" not in m:
            m["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
            m["speed_after"] = round(speed_check(), 3)
            stolen, before = stolen_seconds(), m["stolen_before"]
            m["stolen"] = (
                round(stolen - before, 1) if stolen is not None and isinstance(before, float) else None
            )
        stolen_text = f", {m['stolen']} CPU s stolen by other guests" if m["stolen"] is not None else ""
        return (
            f"{m['cores']} cores ({m['cpu']}), load average (1, 5, 15 min) {m['load_before']} before, "
            f"{m['load_after']} after; speed check {m['speed_before']} s before, {m['speed_after']} s "
            f"after{stolen_text}; "
            f"Python {m['python']}, git {m['git']}, gitops-push at {m['commit']}"
            f"{' + uncommitted changes' if m['dirty'] else ''}, {m['when']}"
        )

    def to_json(self) -> str:
        return json.dumps({"machine": self.machine, "figures": [asdict(f) for f in self.figures]}, indent=2)


def machine_info() -> dict[str, object]:
    def output(*argv: str) -> str:
        try:
            return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu or platform.processor() or "unknown",
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "speed_before": round(speed_check(), 3),
        "stolen_before": stolen_seconds(),
        "python": platform.python_version(),
        "git": output("git", "--version").removeprefix("git version "),
        "commit": output("git", "rev-parse", "--short=12", "HEAD"),
        # --no-optional-locks: a read-only status that never refreshes the checkout's index
        "dirty": bool(
            output("git", "--no-optional-locks", "status", "--porcelain", "-uno", "--", "gitops_push")
        ),
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def speed_check() -> float:
    """Seconds the best of three runs of a fixed pure-Python loop takes: how fast this machine runs
    the interpreter just now. A shared virtual machine's speed changes from hour to hour (seen here:
    the same `plan --all --offline` of 10,000 objects took 0.96 s on the idle machine, and 1.96 s on
    it an hour later), and the CPU-bound figures move with it; the load average does not show it
    when the cause is another guest of the same host."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(2_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return best


def stolen_seconds() -> float | None:
    """CPU seconds the hypervisor has given other guests while this machine's cores wanted them
    (the `steal` column of /proc/stat, summed over the cores); None where there is no /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def print_report(report: Report, title: str) -> None:
    print(f"\n{title}\n{report.header()}\n")
    print(report.table())


def ratio_figure(
    benchmark: str, name: str, value: float, *, target: str, met: bool | None, detail: str
) -> Figure:
    return Figure(benchmark, name, value, "x", detail=detail, target=target, met=met)
