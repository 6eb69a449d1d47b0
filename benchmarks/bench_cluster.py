"""Deploy speed against a real control plane: gitops-push beside kubectl and beside a bare client.

    python benchmarks/bench_cluster.py [--rounds 3] [--objects 500] [--keep]

Starts its own devcluster (`tools/devcluster up --name bench`; stopped again at the end unless
--keep), then, ROUNDS times, with a fresh set of names for every tool and round (so each creates):

(a) 500 new objects, ConfigMaps, Services and Deployments (0 replicas) in 5 namespaces that exist
    already, are deployed by `gitops-push deploy --no-wait` (validation and the server-side dry-run
    of everything included) and by `kubectl apply --server-side -f DIR --recursive` (the kubectl built
    at the cluster's version); then all 500 are changed and deployed again the same way.
    Target: gitops-push at least 4x faster than kubectl (wall-clock time of the whole command).
(b) The raw limit: a bare client (urllib3, one pool of 8 connections, 8 threads, the same bodies,
    warm connections) sends the same 500 server-side apply PATCH requests and nothing else. gitops-
    push's apply phase is timed from its own stage events (benchmarks/timed_cli.py runs the command
    line in-process and records them), and estimated a second way as the deploy's time minus that of
    a `deploy --dry-run` of the same change. Target: gitops-push's apply phase at >= 70 % of the raw
    client's objects per second.
(c) The API server's audit log (metadata level) counts the requests of each run: events whose
    requestReceivedTimestamp falls in the run's time window, less those of the control plane's own
    components (by user agent). Target: about two per object plus a small constant (<= 2n + 30).

Each tool's runs follow the other tools' in turn (the order rotates each round), after the API
server has gone quiet (the audit log stops growing). Medians over the rounds are reported.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate
import timed_cli
from common import ROOT, Figure, Report, children_cpu, print_report

NAME = "cluster"
CLUSTER = "bench"
CONCURRENCY = 8  # gitops-push's default --concurrency
KUBECTL_TARGET = 4.0
RAW_TARGET = 0.70
REQUEST_CONSTANT = 30
SYSTEM_AGENTS = ("kube-controller-manager", "kube-scheduler", "kwok", "kube-apiserver", "kube-probe")
RAW_AGENT = "gitops-push-bench-raw/1"
SETTLE_SECONDS = 20.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOOLS = ("gitops-push", "kubectl", "raw")


@dataclass(frozen=True)
class DevCluster:
    kubeconfig: Path
    kubectl: Path
    server: str

    @property
    def audit_log(self) -> Path:
        return self.kubeconfig.parent / "logs" / "audit.log"

    def server_cpu(self) -> float:
        """CPU seconds used so far by kube-apiserver and etcd (their pids from devcluster's record)."""
        try:
            pids = json.loads((self.kubeconfig.parent / "cluster.json").read_text())["pids"]
        except (OSError, ValueError, KeyError):
            return 0.0
        ticks = 0
        for component in ("kube-apiserver", "etcd"):
            try:
                stat = Path(f"/proc/{pids[component]['pid']}/stat").read_text()
            except (OSError, KeyError):
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def devcluster(name: str, *, keep: bool) -> Iterator[DevCluster]:
    script = str(ROOT / "tools" / "devcluster")
    try:
        up = subprocess.run([script, "up", "--name", name], stdout=subprocess.PIPE, text=True, check=True)
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        env_lines = subprocess.run(
            [script, "env", "--name", name], stdout=subprocess.PIPE, text=True, check=True
        ).stdout.splitlines()
        path_line = next(line for line in env_lines if line.startswith("export PATH="))
        bin_dir = shlex.split(path_line.removeprefix("export PATH="))[0].split(":")[0]
        import yaml

        config = yaml.safe_load(kubeconfig.read_text())
        server = str(config["clusters"][0]["cluster"]["server"])
        host = server.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
        if host not in LOOPBACK:
            raise RuntimeError(f"the devcluster serves on {server}, not on the loopback address")
        yield DevCluster(kubeconfig=kubeconfig, kubectl=Path(bin_dir) / "kubectl", server=server)
    finally:
        if not keep:
            subprocess.run([script, "down", "--name", name], check=False)


# --- the audit log ---------------------------------------------------------------------------------


def audit_size(cluster: DevCluster) -> int:
    try:
        return cluster.audit_log.stat().st_size
    except FileNotFoundError:
        return 0


def settle(cluster: DevCluster, *, quiet_lines: int = 12) -> None:
    """Wait (at most SETTLE_SECONDS) until the API server logs fewer than QUIET_LINES requests a second."""
    deadline = time.monotonic() + SETTLE_SECONDS
    previous = audit_size(cluster)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        size = audit_size(cluster)
        with cluster.audit_log.open("rb") as log:
            log.seek(previous)
            lines = log.read(size - previous).count(b"\n")
        previous = size
        if lines < quiet_lines:
            return


def _when(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Requests:
    total: int = 0
    by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    agents: collections.Counter[str] = field(default_factory=collections.Counter)

    def describe(self) -> str:
        parts = ", ".join(f"{what} {count}" for what, count in self.by_kind.most_common())
        return parts


def count_requests(
    cluster: DevCluster, offset: int, start: datetime.datetime, end: datetime.datetime
) -> Requests:
    """Requests received between START and END that the control plane's own components did not send."""
    time.sleep(0.3)  # the log backend writes an event when its response completes
    counted = Requests()
    with cluster.audit_log.open("rb") as log:
        log.seek(offset)
        for raw in log:
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # a line still being written
            agent = str(event.get("userAgent", ""))
            if event.get("stage") != "ResponseComplete" or agent.startswith(SYSTEM_AGENTS):
                continue
            if not start <= _when(event["requestReceivedTimestamp"]) <= end:
                continue
            resource = (event.get("objectRef") or {}).get("resource") or event["requestURI"].split("?")[0]
            verb = event["verb"] + (" dry-run" if "dryRun=All" in event.get("requestURI", "") else "")
            counted.total += 1
            counted.by_kind[f"{verb} {resource}"] += 1
            counted.agents[agent.split(" ")[0]] += 1
    return counted


# --- the tools -------------------------------------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    requests: Requests
    tool_cpu: float  # CPU seconds of the tool (its process, or this one for the raw client)
    server_cpu: float  # CPU seconds of kube-apiserver and etcd meanwhile


@dataclass
class Run:
    seconds: float
    requests: Requests
    tool_cpu: float = 0.0
    server_cpu: float = 0.0
    apply_seconds: float = 0.0  # gitops-push: its apply stage, from its own events
    dry_run_seconds: float = 0.0  # gitops-push: its dry-run stage
    stages: dict[str, float] = field(default_factory=dict)  # gitops-push: every stage

    @classmethod
    def of(cls, measured: Measured, **extra: Any) -> Run:
        return cls(measured.seconds, measured.requests, measured.tool_cpu, measured.server_cpu, **extra)


class Bench:
    def __init__(self, cluster: DevCluster, work: Path, objects: int, namespaces: int) -> None:
        self.cluster = cluster
        self.work = work
        self.objects = objects
        self.namespaces = namespaces
        self.env = {
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig),
            "GITOPS_PUSH_CACHE": str(work / "gitops-push-cache"),
            "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        }
        for variable in ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL"):
            self.env.pop(variable, None)
        self.raw = RawClient(cluster.kubeconfig)

    def namespace_names(self, label: str) -> list[str]:
        return [f"{label}-{n}" for n in range(self.namespaces)]

    def create_namespaces(self, labels: Sequence[str]) -> None:
        names = [ns for label in labels for ns in self.namespace_names(label)]
        manifest = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names],
        }
        self.kubectl(["apply", "--server-side", "-f", "-"], stdin=json.dumps(manifest))

    def kubectl(self, args: Sequence[str], *, stdin: str | None = None) -> None:
        cache = self.work / "kubectl-cache"
        argv = [
            str(self.cluster.kubectl),
            "--kubeconfig",
            str(self.cluster.kubeconfig),
            "--cache-dir",
            str(cache),
        ]
        subprocess.run(
            [*argv, *args], input=stdin, text=True, env=self.env, stdout=subprocess.DEVNULL, check=True
        )

    def measured(self, action: Any, *, in_process: bool = False) -> Measured:
        settle(self.cluster)
        offset = audit_size(self.cluster)
        start = datetime.datetime.now(datetime.UTC)
        server = self.cluster.server_cpu()
        tool = _own_cpu() if in_process else children_cpu()
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        tool = (_own_cpu() if in_process else children_cpu()) - tool
        server = self.cluster.server_cpu() - server
        end = datetime.datetime.now(datetime.UTC)
        return Measured(seconds, count_requests(self.cluster, offset, start, end), tool, server)

    # gitops-push: a Git repository per round, committed once per phase

    def gitops_push(
        self, repo: Path, files: dict[str, list[dict[str, Any]]], env_name: str
    ) -> tuple[Run, Run]:
        """(deploy --dry-run, deploy --no-wait) of the files committed to REPO."""
        if not repo.exists():
            repo.mkdir(parents=True)
            self._git(repo, "init", "-q", "-b", "main")
        generate.write_files(repo, files)
        self._git(repo, "add", "-A")
        self._git(repo, "commit", "-q", "-m", f"bench: {len(files)} files")
        common = [
            "--env",
            env_name,
            "--path",
            generate.MANIFESTS,
            "--kubeconfig",
            str(self.cluster.kubeconfig),
        ]
        dry = self._timed_deploy(repo, [*common, "--dry-run"])
        real = self._timed_deploy(repo, [*common, "--no-wait"])
        return dry, real

    def _timed_deploy(self, repo: Path, args: list[str]) -> Run:
        times_file = repo.parent / f"{repo.name}-times.json"
        argv = [sys.executable, str(Path(timed_cli.__file__)), str(times_file), "deploy", *args]

        def action() -> None:
            result = subprocess.run(argv, cwd=repo, env=self.env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"gitops-push deploy {' '.join(args)} failed:\n{result.stderr[-3000:]}")

        measured = self.measured(action)
        times = json.loads(times_file.read_text())
        return Run.of(
            measured,
            apply_seconds=timed_cli.stage_seconds(times, "apply"),
            dry_run_seconds=timed_cli.stage_seconds(times, "dry-run"),
            stages=timed_cli.breakdown(times),
        )

    def _git(self, repo: Path, *args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], env=self.env, check=True, stdout=subprocess.DEVNULL)

    # kubectl

    def kubectl_apply(self, folder: Path, files: dict[str, list[dict[str, Any]]]) -> Run:
        generate.write_files(folder, files)
        return Run.of(
            self.measured(lambda: self.kubectl(["apply", "--server-side", "-f", str(folder), "--recursive"]))
        )

    # the bare client

    def raw_apply(self, files: dict[str, list[dict[str, Any]]], env_name: str) -> Run:
        from gitops_push.stages import ownership

        label = {ownership.PART_OF_LABEL: ownership.applyset_id(env_name)}
        bodies = []
        for documents in files.values():
            for document in documents:
                metadata = {
                    **document["metadata"],
                    "labels": {**document["metadata"].get("labels", {}), **label},
                }
                bodies.append({**document, "metadata": metadata})
        self.raw.warm()
        return Run.of(self.measured(lambda: self.raw.apply_all(bodies), in_process=True))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RawClient:
    """Server-side apply PATCH requests and nothing else: one urllib3 pool, CONCURRENCY threads."""

    PLURALS: Mapping[str, tuple[str, str]] = {
        "ConfigMap": ("/api/v1", "configmaps"),
        "Service": ("/api/v1", "services"),
        "Deployment": ("/apis/apps/v1", "deployments"),
    }

    def __init__(self, kubeconfig: Path) -> None:
        import urllib3
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
        url = urllib3.util.parse_url(configuration.host)
        if url.host not in LOOPBACK:
            raise RuntimeError(f"refusing to send benchmark traffic to {configuration.host}")
        self.pool = urllib3.HTTPSConnectionPool(
            url.host,
            url.port,
            maxsize=CONCURRENCY,
            block=True,
            cert_reqs="CERT_REQUIRED",
            ca_certs=configuration.ssl_ca_cert,
            cert_file=configuration.cert_file,
            key_file=configuration.key_file,
            retries=False,
            timeout=urllib3.Timeout(connect=10, read=60),
        )
        self.headers = {
            "Content-Type": "application/apply-patch+yaml",
            "Accept": "application/json",
            "User-Agent": RAW_AGENT,
        }
        token = (configuration.api_key or {}).get("authorization")
        if token:
            self.headers["Authorization"] = token

    def warm(self) -> None:
        """Open the pool's connections (TLS handshakes) before timing, as gitops-push's are by then."""
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(
                pool.map(
                    lambda _: self.pool.request("GET", "/version", headers=self.headers), range(CONCURRENCY)
                )
            )

    def apply_all(self, bodies: Sequence[Mapping[str, Any]]) -> None:
        def one(body: Mapping[str, Any]) -> None:
            prefix, plural = self.PLURALS[str(body["kind"])]
            metadata = body["metadata"]
            path = f"{prefix}/namespaces/{metadata['namespace']}/{plural}/{metadata['name']}"
            response = self.pool.request(
                "PATCH",
                f"{path}?fieldManager=gitops-push&force=false",
                body=json.dumps(body).encode(),
                headers=self.headers,
            )
            if not 200 <= response.status < 300:
                raise RuntimeError(f"PATCH {path}: {response.status} {response.data[:300]!r}")

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(one, bodies))


# --- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase (create or update) of every round: the runs of each tool."""

    name: str
    dry: list[Run] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=lambda: {tool: [] for tool in TOOLS})


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    return f"min {min(values):.2f}, max {max(values):.2f} s" if values else ""


def run(
    report: Report, *, rounds: int = 3, objects: int = 500, namespaces: int = 5, keep: bool = False
) -> None:
    rounds = max(1, min(rounds, 10))
    phases = {"create": Phase("create"), "update": Phase("update")}
    with (
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp,
        devcluster(CLUSTER, keep=keep) as cluster,
    ):
        work = Path(tmp)
        bench = Bench(cluster, work, objects, namespaces)
        labels = [f"r{r}-{tool[:2]}" for r in range(rounds) for tool in TOOLS]
        bench.create_namespaces(["warm-gp", "warm-ku", "warm-ra", *labels])
        # Untimed: discovery caches, the API server's own caches and the raw client's connections.
        bench.gitops_push(
            work / "warm-gp", generate.cluster_objects(bench.namespace_names("warm-gp"), 15), "warm"
        )
        bench.kubectl_apply(work / "warm-ku", generate.cluster_objects(bench.namespace_names("warm-ku"), 15))
        bench.raw_apply(generate.cluster_objects(bench.namespace_names("warm-ra"), 15), "warm")
        for number in range(rounds):
            order = TOOLS[number % len(TOOLS) :] + TOOLS[: number % len(TOOLS)]
            for revision, phase in enumerate(phases.values()):
                for tool in order:
                    label = f"r{number}-{tool[:2]}"
                    files = generate.cluster_objects(bench.namespace_names(label), objects, revision=revision)
                    if tool == "gitops-push":
                        dry, real = bench.gitops_push(work / label, files, f"bench{number}")
                        phase.dry.append(dry)
                        phase.runs[tool].append(real)
                    elif tool == "kubectl":
                        phase.runs[tool].append(bench.kubectl_apply(work / label, files))
                    else:
                        phase.runs[tool].append(bench.raw_apply(files, f"bench{number}"))
                    last = phase.runs[tool][-1]
                    print(
                        f"cluster: round {number + 1}/{rounds} {phase.name:<6} {tool:<11} {last.seconds:6.2f} s, "
                        f"{last.requests.total} requests",
                        file=sys.stderr,
                    )
    for phase in phases.values():
        report_phase(report, phase, objects)


def cpu(runs: Sequence[Run]) -> str:
    return (
        f"CPU: tool {median([r.tool_cpu for r in runs]):.1f} s, "
        f"kube-apiserver + etcd {median([r.server_cpu for r in runs]):.1f} s"
    )


def report_phase(report: Report, phase: Phase, objects: int) -> None:
    gp, kc, raw = (phase.runs[tool] for tool in TOOLS)
    n = f"{objects} objects, {phase.name}"
    rounds = f"median of {len(gp)} round{'s' if len(gp) > 1 else ''}"
    gp_total = median([r.seconds for r in gp])
    kc_total = median([r.seconds for r in kc])
    raw_total = median([r.seconds for r in raw])
    apply_phase = median([r.apply_seconds for r in gp])
    dry_total = median([r.seconds for r in phase.dry])

    def add(
        name: str, value: float, unit: str, detail: str, target: str = "", met: bool | None = None
    ) -> None:
        report.add(Figure(NAME, name, value, unit, detail, target, met))

    add(
        f"gitops-push deploy --no-wait, {n}",
        gp_total,
        "s",
        f"{rounds}; {spread([r.seconds for r in gp])}; {cpu(gp)}",
    )
    add(
        f"kubectl apply --server-side, {n}",
        kc_total,
        "s",
        f"{rounds}; {spread([r.seconds for r in kc])}; {cpu(kc)}",
    )
    speedup = kc_total / gp_total
    add(
        f"kubectl time / gitops-push time, {phase.name}",
        speedup,
        "x",
        "whole commands, wall clock",
        f">= {KUBECTL_TARGET:g}x",
        speedup >= KUBECTL_TARGET,
    )
    add(
        f"raw client: {objects} SSA PATCHes, {phase.name}",
        objects / raw_total,
        "objects/s",
        f"{raw_total:.2f} s, {rounds}; {cpu(raw)}",
    )
    add(
        f"gitops-push apply phase, {phase.name}",
        objects / apply_phase,
        "objects/s",
        f"{apply_phase:.2f} s from its stage events; its dry-run phase "
        f"{median([r.dry_run_seconds for r in gp]):.2f} s",
    )
    share = raw_total / apply_phase
    estimate = gp_total - dry_total
    other = (
        f"deploy minus deploy --dry-run ({gp_total:.2f} - {dry_total:.2f} s) gives {raw_total / estimate:.0%}"
        if estimate > 0
        else "deploy minus deploy --dry-run: not positive"
    )
    add(
        f"gitops-push apply phase / raw client, objects/s, {phase.name}",
        share * 100,
        "%",
        other,
        f">= {RAW_TARGET:.0%}",
        share >= RAW_TARGET,
    )
    stages = {name: median([r.stages.get(name, 0.0) for r in gp]) for name in gp[0].stages}
    add(
        f"gitops-push deploy stages, {phase.name}",
        sum(stages.values()),
        "s",
        ", ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items()) + " (medians, in-process)",
    )
    count = median([r.requests.total for r in gp])
    middle = sorted(gp, key=lambda r: r.requests.total)[len(gp) // 2]
    add(
        f"gitops-push requests, {n}",
        count,
        "requests",
        f"{count / objects:.2f} per object; {middle.requests.describe()}",
        f"<= 2n + {REQUEST_CONSTANT}",
        count <= 2 * objects + REQUEST_CONSTANT,
    )
    dry_middle = sorted(phase.dry, key=lambda r: r.requests.total)[len(phase.dry) // 2]
    add(
        f"gitops-push deploy --dry-run requests, {n}",
        median([r.requests.total for r in phase.dry]),
        "requests",
        f"{dry_total:.2f} s; {dry_middle.requests.describe()}",
    )
    kc_middle = sorted(kc, key=lambda r: r.requests.total)[len(kc) // 2]
    add(
        f"kubectl requests, {n}",
        median([r.requests.total for r in kc]),
        "requests",
        kc_middle.requests.describe(),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, each with fresh names (default 3, at most 10)"
    )
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the devcluster running")
    args = parser.parse_args()
    report = Report()
    run(report, rounds=args.rounds, objects=args.objects, namespaces=args.namespaces, keep=args.keep)
    print_report(report, "gitops-push against a devcluster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
