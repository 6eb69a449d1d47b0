"""Rendered sources (issue 15): what a rendering costs, cold and from the cache, beside plain files.

    python benchmarks/bench_render.py [--rounds 5]

Builds kustomize and helm with tools/build-renderers (cached), writes one Git repository in a
temporary folder with the fixtures of tests/fixtures (the podinfo chart with values-prod.yaml, the
podinfo kustomize base with a staging overlay, microservices-demo with a component overlay) and, for
each source, times, as medians over ROUNDS:

- inputs: `rendering.render_inputs` alone (reading kustomization files and tree ids from Git);
- cold: `rendering.render` with an empty cache (export, the tool run, parsing, origins);
- cached: `rendering.render` again on a later commit that changed nothing the source reads;
- plain: `loading.read_side` on the same objects committed as plain YAML files, the work that a
  plain-manifest environment does in their place.

Then the whole-plan comparison of issue 15 (target: under 2x, rendering included): `gitops-push
plan --offline` run in this process on an environment whose source is the microservices-demo overlay,
against an environment of the same objects committed as plain files; cold (every cache empty, the
rendering cache included: kustomize runs) and warm (the rendering read back from the cache), medians
over ROUNDS, the four runs of a round interleaved so that load from elsewhere hits all alike. In
this process, so the ratio compares the pipelines; a new process's start (imports) would add the
same to both and hide the difference.

`run(report)` is what benchmarks/run_all.py (`nox -s bench`) calls: the plan comparison's figures go
into its table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import Figure, Report, print_report  # noqa: E402

from gitops_push.gitrepo import GitRepo, open_repo  # noqa: E402
from gitops_push.stages import loading, rendering  # noqa: E402

NAME = "render"
RATIO_TARGET = 2.0
MAX_ROUNDS = 50
FIXTURES = ROOT / "tests" / "fixtures"
SOURCES: dict[str, rendering.Source] = {
    "helm podinfo (values-prod)": rendering.HelmSource(
        "charts/podinfo", "podinfo", "podinfo", values=("charts/podinfo/values-prod.yaml",)
    ),
    "kustomize podinfo staging": rendering.KustomizeSource("podinfo/overlays/staging"),
    "kustomize microservices-demo": rendering.KustomizeSource("shop/overlays/dev"),
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def write_sources(repo: Path) -> None:
    shutil.copytree(FIXTURES / "podinfo" / "charts" / "podinfo", repo / "charts" / "podinfo")
    shutil.copytree(FIXTURES / "podinfo" / "kustomize", repo / "podinfo" / "base")
    staging = repo / "podinfo" / "overlays" / "staging"
    staging.mkdir(parents=True)
    (staging / "kustomization.yaml").write_text(
        "namespace: staging\nnamePrefix: staging-\nresources: [../../base]\n"
    )
    shutil.copytree(FIXTURES / "microservices-demo", repo / "shop" / "base")
    component = repo / "shop" / "components" / "team"
    component.mkdir(parents=True)
    (component / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n  - pairs: {team: shop}\n"
    )
    dev = repo / "shop" / "overlays" / "dev"
    dev.mkdir(parents=True)
    (dev / "kustomization.yaml").write_text("resources: [../../base]\ncomponents: [../../components/team]\n")


def median_ms(rounds: int, run: Callable[[int], object]) -> float:
    samples = []
    for number in range(rounds):
        started = time.perf_counter()
        run(number)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def plain_copy(repo: Path, name: str, result: rendering.Rendering) -> list[str]:
    """The rendered objects as plain files, one per object, committed; returns their paths."""
    folder = repo / "plain" / name.replace(" ", "-")
    folder.mkdir(parents=True)
    paths = []
    for index, rendered in enumerate(result.objects):
        path = folder / f"{index:03d}.yaml"
        path.write_text(yaml.safe_dump(dict(rendered.body), sort_keys=False))
        paths.append(str(path.relative_to(repo)))
    return paths


def measure(repo: GitRepo, work: Path, rounds: int, tools: rendering.Tools, head: str, later: str) -> None:
    print(f"{'source':32} {'objects':>7} {'inputs':>9} {'cold':>9} {'cached':>9} {'plain':>9}")
    for name, source in SOURCES.items():
        Measured(repo, work / name.replace(" ", "-"), tools, source).run(name, rounds, head, later)


class Measured:
    """The timings of one source."""

    def __init__(self, repo: GitRepo, work: Path, tools: rendering.Tools, source: rendering.Source) -> None:
        self.repo, self.work, self.tools, self.source = repo, work, tools, source

    def render(self, commit: str, cache_dir: Path) -> rendering.Rendering:
        return rendering.render(self.repo, commit, self.source, tools=self.tools, cache_dir=cache_dir)

    def run(self, name: str, rounds: int, head: str, later: str) -> None:
        inputs = median_ms(rounds, lambda _: rendering.render_inputs(self.repo, head, self.source))
        cold = median_ms(rounds, lambda n: self.render(head, self.work / f"cold-{n}"))
        result = self.render(head, self.work / "warm")
        cached = median_ms(rounds, lambda _: self.render(later, self.work / "warm"))
        paths = plain_copy(self.repo.root, name, result)
        files = self.repo.tree_files(commit_all(self.repo.root, f"plain {name}"), paths)
        plain = median_ms(rounds, lambda _: loading.read_side(self.repo, files))
        print(
            f"{name:32} {len(result.objects):7} {inputs:7.1f}ms {cold:7.1f}ms {cached:7.1f}ms {plain:7.1f}ms"
        )


def plan_seconds(root: Path, env: str, cache: Path) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one `gitops-push plan --offline --env ENV` in this process, with
    cache root `cache`. CPU counts this process and the children it waited for (git, kustomize): on a
    machine that others share it varies less than the wall clock, which waits for their work too."""
    from click.testing import CliRunner

    from gitops_push.cli import main as cli

    argv = ["plan", "--offline", "--env", env, "--repo", str(root), "-o", "json"]
    cpu = cpu_seconds()
    started = time.perf_counter()
    result = CliRunner().invoke(cli, argv, env={"GITOPS_PUSH_CACHE": str(cache)})
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(f"plan --env {env} exited {result.exit_code}: {result.stderr}")
    return elapsed, cpu_seconds() - cpu


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class PlanTimes:
    """Medians in ms of plan --offline on the plain and the overlay environment, cold and warm."""

    objects: int
    samples: dict[str, list[tuple[float, float]]]  # (wall, CPU) seconds

    def ms(self, name: str, *, cpu: bool = False) -> float:
        return statistics.median(sample[1 if cpu else 0] for sample in self.samples[name]) * 1000

    def ratio(self, warmth: str, *, cpu: bool = False) -> float:
        return self.ms(f"overlay {warmth}", cpu=cpu) / self.ms(f"plain {warmth}", cpu=cpu)


def compare_plans(root: Path, work: Path, rounds: int, tools: rendering.Tools) -> PlanTimes:
    """plan --offline on the overlay environment against the same objects committed plain."""
    source = SOURCES["kustomize microservices-demo"]
    with open_repo(root) as repo:
        result = rendering.render(
            repo, git(root, "rev-parse", "HEAD"), source, tools=tools, cache_dir=work / "c"
        )
    folder = root / "plain-shop"
    folder.mkdir()
    for index, rendered in enumerate(result.plain):
        (folder / f"{index:03d}.yaml").write_text(yaml.safe_dump(dict(rendered.body), sort_keys=False))
    (root / "gitops-push.yaml").write_text(
        "environments:\n  overlay:\n    kustomize: shop/overlays/dev\n  plain:\n    paths: [plain-shop]\n"
    )
    commit_all(root, "two environments of the same objects")
    for env in ("plain", "overlay"):  # imports and first-use costs, untimed; fills the warm caches
        plan_seconds(root, env, work / f"{env}-warm")
    samples: dict[str, list[tuple[float, float]]] = {}
    for number in range(rounds):
        # Cold: a cache root never used (no schema, no rendering); warm: each environment's own kept.
        for env in ("plain", "overlay"):
            samples.setdefault(f"{env} cold", []).append(
                plan_seconds(root, env, work / f"{env}-cold-{number}")
            )
            samples.setdefault(f"{env} warm", []).append(plan_seconds(root, env, work / f"{env}-warm"))
    times = PlanTimes(len(result.plain), samples)
    print(f"\nplan --offline, {times.objects} objects (target: overlay under {RATIO_TARGET:g}x plain):")
    for warmth in ("cold", "warm"):
        plain, overlay = times.ms(f"plain {warmth}"), times.ms(f"overlay {warmth}")
        plain_cpu, overlay_cpu = (
            times.ms(f"plain {warmth}", cpu=True),
            times.ms(f"overlay {warmth}", cpu=True),
        )
        print(
            f"  {warmth} caches: plain {plain:.0f}ms, overlay {overlay:.0f}ms: {times.ratio(warmth):.2f}x"
            f" (CPU: plain {plain_cpu:.0f}ms, overlay {overlay_cpu:.0f}ms: {times.ratio(warmth, cpu=True):.2f}x)"
        )
    return times


def figures(times: PlanTimes, rounds: int) -> list[Figure]:
    how = {
        "cold": "every cache empty, the rendering cache included: kustomize runs",
        "warm": "the rendering read back from the cache by its inputs' Git object ids",
    }
    return [
        Figure(
            NAME,
            f"plan --offline, {times.objects} objects: overlay / plain, {warmth} caches",
            times.ratio(warmth),
            "x",
            f"{how[warmth]}; medians of {rounds} interleaved in-process runs: "
            f"overlay {times.ms(f'overlay {warmth}'):.0f} ms, plain {times.ms(f'plain {warmth}'):.0f} ms "
            f"(CPU {times.ratio(warmth, cpu=True):.2f}x: overlay {times.ms(f'overlay {warmth}', cpu=True):.0f} ms, "
            f"plain {times.ms(f'plain {warmth}', cpu=True):.0f} ms)",
            f"< {RATIO_TARGET:g}x",
            times.ratio(warmth) < RATIO_TARGET,
        )
        for warmth in ("cold", "warm")
    ]


def run(report: Report, *, rounds: int = 5, per_source: bool = True) -> None:
    """Build the renderers, time each source (printed) and the plan comparison (into `report`)."""
    built = subprocess.run(
        [str(ROOT / "tools" / "build-renderers")], stdout=subprocess.PIPE, text=True, check=True
    )
    tools = rendering.find_tools(SOURCES.values(), search_path=built.stdout.strip().splitlines()[-1])
    print(f"tools: {tools.versions()}")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        work = Path(scratch)
        root = work / "repo"
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        write_sources(root)
        head = commit_all(root, "sources")
        (root / "README.md").write_text("unrelated change\n")
        later = commit_all(root, "unrelated")
        if per_source:
            with open_repo(root) as repo:
                measure(repo, work, rounds, tools, head, later)
        bin_folder = str(Path(tools.helm.command[0]).parent) if tools.helm else ""
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{bin_folder}{os.pathsep}{path}"  # the CLI's renderers
        try:
            times = compare_plans(root, work, rounds, tools)
        finally:
            os.environ["PATH"] = path
    for figure in figures(times, rounds):
        report.add(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = max(1, min(parser.parse_args().rounds, MAX_ROUNDS))
    report = Report()
    run(report, rounds=rounds)
    print_report(report, "rendered sources (issue 15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
