"""Deploy speed against a real control plane, over a network with latency: gitops-push beside
kubectl and beside a bare client.

    python benchmarks/bench_cluster.py [--rounds 3] [--objects 500] [--rtt-ms 0,5,20,50] [--chart PNG] [--keep]

Starts a devcluster of its own for every round (`tools/devcluster up --name bench`, stopped again
after the round; --keep leaves the last one running), so that every round meets the same empty
cluster. At each round-trip time (RTT) in turn: 0 ms is the API server on loopback, directly;
above 0, every tool talks to it through benchmarks/latencyproxy.py, a TCP proxy that delays each
direction by half the RTT, with a kubeconfig whose server is the proxy. At each RTT, ROUNDS rounds,
each after an untimed warm-up of every tool (discovery caches are kept per server address, and the
proxy's is new), with a fresh set of names for every tool and round (so each creates):

(a) 500 new objects, one in five a Service and the others ConfigMaps and Deployments (0 replicas), in
    5 namespaces that exist already, are deployed by `gitops-push deploy --no-wait --no-push`
    (validation and the server-side dry-run of everything included) and by
    `kubectl apply --server-side -f DIR --recursive` (the kubectl built at the cluster's version);
    then all 500 are changed and deployed again the same way. Targets (issue 16): kubectl's time at
    least 1x gitops-push's on loopback, 4x at 20 ms and 6x at 50 ms (whole commands, wall clock; the
    median of each round's ratio, as a round runs the tools one right after another);
    gitops-push at 20 ms at most 1.5 s slower than on loopback; its peak RSS under 300 MB.
(b) The raw limit: a bare client (urllib3, one pool of N connections, N threads, where N is what
    gitops-push keeps in flight by itself at that round trip: `raw_concurrency`; the same bodies,
    warm connections) sends the same 500 server-side apply PATCH requests and nothing else. On
    loopback, gitops-push's apply phase is timed from its own stage events (benchmarks/timed_cli.py
    runs the command line in-process and records them), and estimated a second way as the deploy's
    time minus that of a `deploy --dry-run` of the same change (run on loopback only). Target:
    gitops-push's apply phase at >= 70 % of the raw client's objects per second.
(c) The API server's audit log (metadata level) counts the requests of each run: events whose
    requestReceivedTimestamp falls in the run's time window, less those of the control plane's own
    components (by user agent). Target: about two per object plus a small constant (<= 2n + 30).
(d) Where gitops-push's time goes: each stage's wall-clock and CPU seconds (from its stage events and
    its process's CPU clock), so waiting (wall minus CPU) stands apart from work; above 0 ms, how
    much each stage grew over loopback, also counted in round trips (growth / RTT: how many round
    trips that stage waits for one after another).

Each tool's runs follow the other tools' in turn (the order rotates each round), after the API
server has gone quiet (the audit log stops growing). Medians over the rounds are reported; a ratio
to kubectl is the median of the rounds' own ratios.
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
import urllib.parse
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
OBJECTS = 500
CLUSTER = "bench"
RTTS_MS = (0, 5, 20, 50)  # round trips measured; 0: no proxy, the tools talk to the API server directly
RATIO_TARGETS = {0: 1.0, 20: 4.0, 50: 6.0}  # kubectl's time over gitops-push's, by round trip (issue 16)
MARGIN_RTT_MS, MARGIN_SECONDS = 20, 1.5  # at 20 ms, gitops-push at most 1.5 s slower than on loopback
RSS_TARGET_MB = 300.0
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
        return sum(process_cpu(pids[component]["pid"]) for component in ("kube-apiserver", "etcd"))


def process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


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


# --- the network between the tools and the API server ---------------------------------------------


@dataclass(frozen=True)
class Link:
    """How the tools reach the API server: directly (a round trip of 0 ms), or through a latency
    proxy process (benchmarks/latencyproxy.py) and a kubeconfig whose server is the proxy."""

    rtt_ms: int
    kubeconfig: Path
    proxy_pid: int | None = None

    def proxy_cpu(self) -> float:
        return process_cpu(self.proxy_pid) if self.proxy_pid is not None else 0.0


@contextlib.contextmanager
def link(cluster: DevCluster, rtt_ms: int, work: Path) -> Iterator[Link]:
    if rtt_ms == 0:
        yield Link(0, cluster.kubeconfig)
        return
    import yaml

    server = urllib.parse.urlsplit(cluster.server)
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent / "latencyproxy.py"),
        "--upstream",
        f"127.0.0.1:{server.port}",
        "--delay-ms",
        f"{rtt_ms / 2:g}",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proxy:
        try:
            assert proxy.stdout is not None
            port = int(proxy.stdout.readline())
            config = yaml.safe_load(cluster.kubeconfig.read_text())
            for entry in config["clusters"]:
                entry["cluster"]["server"] = server._replace(netloc=f"{server.hostname}:{port}").geturl()
            kubeconfig = work / f"kubeconfig-rtt{rtt_ms}"
            # It holds the client's key: readable by this user only, as the original is.
            with os.fdopen(os.open(kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                json.dump(config, out)
            yield Link(rtt_ms, kubeconfig, proxy.pid)
        finally:
            proxy.terminate()
            try:
                proxy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proxy.kill()


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
    proxy_cpu: float  # CPU seconds of the latency proxy meanwhile (0 without one)


@dataclass
class Run:
    seconds: float
    requests: Requests
    tool_cpu: float = 0.0
    server_cpu: float = 0.0
    proxy_cpu: float = 0.0
    apply_seconds: float = 0.0  # gitops-push: its apply stage, from its own events
    dry_run_seconds: float = 0.0  # gitops-push: its dry-run stage
    stages: dict[str, float] = field(default_factory=dict)  # gitops-push: every stage, wall clock
    stage_cpu: dict[str, float] = field(default_factory=dict)  # gitops-push: every stage, CPU seconds
    max_rss_mb: float = 0.0  # gitops-push: the peak resident set of its process

    @classmethod
    def of(cls, measured: Measured, **extra: Any) -> Run:
        return cls(
            measured.seconds,
            measured.requests,
            measured.tool_cpu,
            measured.server_cpu,
            measured.proxy_cpu,
            **extra,
        )


def prerequisite_objects(label: str) -> list[dict[str, Any]]:
    """A Namespace, a CRD, a custom resource of it in that Namespace and a ConfigMap, named after LABEL
    (a CRD is cluster-wide: each round has its own kind)."""
    suffix = "".join(c for c in label if c.isalnum())
    plural, singular, kind = f"widgets{suffix}", f"widget{suffix}", f"Widget{suffix.capitalize()}"
    group = "bench.example.test"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": label}},
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": singular, "listKind": f"{kind}List"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": f"{group}/v1",
            "kind": kind,
            "metadata": {"name": "small", "namespace": label},
            "size": 1,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": label},
            "data": {"a": "b"},
        },
    ]


class Bench:
    def __init__(self, cluster: DevCluster, work: Path, objects: int, namespaces: int, link: Link) -> None:
        self.cluster = cluster
        self.work = work
        self.objects = objects
        self.namespaces = namespaces
        self.link = link
        self.kubeconfig = link.kubeconfig
        self.env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "GITOPS_PUSH_CACHE": str(work / "gitops-push-cache"),
            "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        }
        for variable in ("GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL"):
            self.env.pop(variable, None)
        self.raw = RawClient(self.kubeconfig, raw_concurrency(link.rtt_ms))

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
            str(self.kubeconfig),
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
        proxy = self.link.proxy_cpu()
        tool = _own_cpu() if in_process else children_cpu()
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        tool = (_own_cpu() if in_process else children_cpu()) - tool
        server = self.cluster.server_cpu() - server
        proxy = self.link.proxy_cpu() - proxy
        end = datetime.datetime.now(datetime.UTC)
        return Measured(seconds, count_requests(self.cluster, offset, start, end), tool, server, proxy)

    # gitops-push: a Git repository per round, committed once per phase

    def gitops_push(
        self, repo: Path, files: dict[str, list[dict[str, Any]]], env_name: str, *, dry_run: bool = True
    ) -> tuple[Run | None, Run]:
        """(deploy --dry-run if DRY_RUN, deploy --no-wait --no-push) of the files committed to REPO."""
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
            str(self.kubeconfig),
            "--no-push",
        ]
        dry = self._timed_deploy(repo, [*common, "--dry-run"]) if dry_run else None
        real = self._timed_deploy(repo, [*common, "--no-wait"])
        return dry, real

    def prerequisites(self, label: str) -> Run:
        """A first deploy, health wait included, of a new Namespace, a new CRD, a custom resource of
        it and a ConfigMap in that Namespace: the waits for Namespaces and CRDs, and the dry-run of
        what waited for them."""
        repo = self.work / label
        repo.mkdir(parents=True)
        self._git(repo, "init", "-q", "-b", "main")
        generate.write_files(repo, {f"{generate.MANIFESTS}/app.yaml": prerequisite_objects(label)})
        self._git(repo, "add", "-A")
        self._git(repo, "commit", "-q", "-m", "bench: prerequisites")
        common = ["--env", label, "--path", generate.MANIFESTS, "--kubeconfig", str(self.kubeconfig)]
        return self._timed_deploy(repo, [*common, "--no-push"])

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
            stage_cpu=timed_cli.breakdown(times, cpu=True),
            max_rss_mb=times["max_rss_kb"] / 1024.0,
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
    """Server-side apply PATCH requests and nothing else: one urllib3 pool, `concurrency` threads."""

    PLURALS: Mapping[str, tuple[str, str]] = {
        "ConfigMap": ("/api/v1", "configmaps"),
        "Service": ("/api/v1", "services"),
        "Deployment": ("/apis/apps/v1", "deployments"),
    }

    def __init__(self, kubeconfig: Path, concurrency: int) -> None:
        import urllib3

        self.concurrency = concurrency
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
            maxsize=concurrency,
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
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            list(
                pool.map(
                    lambda _: self.pool.request("GET", "/version", headers=self.headers),
                    range(self.concurrency),
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

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            list(pool.map(one, bodies))


def raw_concurrency(rtt_ms: int) -> int:
    """As many requests in flight as gitops-push keeps by itself at this round trip, so that the bare
    client is the same pipe without the tool's work around it."""
    from gitops_push.stages import applying

    return applying.in_flight(rtt_ms / 1000, None)


# --- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """One phase (create or update) of every round at one round-trip time: the runs of each tool."""

    name: str
    dry: list[Run] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=lambda: {tool: [] for tool in TOOLS})

    def seconds(self, tool: str) -> float:
        return median([r.seconds for r in self.runs[tool]])


@dataclass
class Latency:
    """Every run at one round-trip time, by phase."""

    rtt_ms: int
    phases: dict[str, Phase]
    prerequisites: list[Run] = field(default_factory=list)  # see Bench.prerequisites


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def paired_ratios(phase: Phase) -> list[float]:
    """kubectl's time over gitops-push's in each round. A round runs the tools one right after the
    other, so a slower spell of the shared machine (another VM's load, the controllers' bursts) falls
    on both runs of a pair; a ratio of medians could pair a fast run of one tool with a slow one of
    the other."""
    gp, kc = phase.runs["gitops-push"], phase.runs["kubectl"]
    return [k.seconds / g.seconds for g, k in zip(gp, kc, strict=True)]


def ratio_detail(phase: Phase) -> str:
    ratios = paired_ratios(phase)
    medians = phase.seconds("kubectl") / phase.seconds("gitops-push")
    return (
        f"whole commands, wall clock: median of {len(ratios)} rounds' ratios "
        f"({', '.join(f'{r:.2f}' for r in ratios)}; each round runs the tools one after another); "
        f"ratio of the medians {medians:.2f}x"
    )


def spread(values: Sequence[float]) -> str:
    return f"min {min(values):.2f}, max {max(values):.2f} s" if values else ""


def run(
    report: Report,
    *,
    rounds: int = 3,
    objects: int = OBJECTS,
    namespaces: int = 5,
    keep: bool = False,
    rtts_ms: Sequence[int] = RTTS_MS,
    cluster_name: str = CLUSTER,
) -> list[Latency]:
    """Measure at every round-trip time in turn, report the figures, and return the runs (for the chart).

    Every round has a control plane of its own, started for it. On one control plane for the whole
    run, the later round trips met a cluster holding every earlier round's objects (some 20,000 with
    their ReplicaSets), where the API server spends more CPU on each request: 1,500 creates by the
    bare client cost it 18-20 CPU s while the cluster held up to 4,500 objects, and 23-29 CPU s once
    it held 7,500 to 16,500 (one devcluster, 11 such rounds in a row). That slowed the CPU-bound
    tools round after round, and hardly kubectl, which mostly waits. A fresh control plane gives
    every round the same cluster."""
    rounds = max(1, min(rounds, 10))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        work = Path(tmp)
        for rtt in rtts_ms:
            latency = Latency(rtt, {"create": Phase("create"), "update": Phase("update")})
            for number in range(rounds):
                last = rtt == rtts_ms[-1] and number == rounds - 1
                with devcluster(cluster_name, keep=keep and last) as cluster:
                    measure_round(
                        cluster, work, latency, number, rounds, objects=objects, namespaces=namespaces
                    )
            print(
                f"cluster: {rtt:>2} ms, prerequisites: "
                f"{', '.join(f'{r.seconds:.2f}' for r in latency.prerequisites)} s",
                file=sys.stderr,
            )
            results.append(latency)
    report_all(report, results, objects)
    return results


def label(rtt_ms: int, number: int, tool: str) -> str:
    return f"d{rtt_ms}-r{number}-{tool[:2]}"


def measure_round(
    cluster: DevCluster,
    work: Path,
    latency: Latency,
    number: int,
    rounds: int,
    *,
    objects: int,
    namespaces: int,
) -> None:
    """Round NUMBER at LATENCY's round trip, on CLUSTER, its runs added to LATENCY: each tool creates
    and then updates its objects (the deploy --dry-run runs on loopback only), then gitops-push's
    first deploy of prerequisites."""
    rtt = latency.rtt_ms
    warm_labels = {tool: f"w{rtt}r{number}-{tool[:2]}" for tool in TOOLS}
    direct = Bench(cluster, work, objects, namespaces, Link(0, cluster.kubeconfig))
    direct.create_namespaces([*warm_labels.values(), *(label(rtt, number, tool) for tool in TOOLS)])
    with link(cluster, rtt, work) as via:
        bench = Bench(cluster, work, objects, namespaces, via)
        # Untimed: discovery caches (they are kept per server address, and the proxy's is new), the
        # API server's own caches and the raw client's connections.
        warm = {
            tool: generate.cluster_objects(bench.namespace_names(warm_labels[tool]), 15) for tool in TOOLS
        }
        environment = f"b{rtt}r{number}"
        bench.gitops_push(
            work / warm_labels["gitops-push"], warm["gitops-push"], f"w{environment}", dry_run=False
        )
        bench.kubectl_apply(work / warm_labels["kubectl"], warm["kubectl"])
        bench.raw_apply(warm["raw"], f"w{environment}")
        order = TOOLS[number % len(TOOLS) :] + TOOLS[: number % len(TOOLS)]
        for revision, phase in enumerate(latency.phases.values()):
            for tool in order:
                name = label(rtt, number, tool)
                files = generate.cluster_objects(bench.namespace_names(name), objects, revision=revision)
                if tool == "gitops-push":
                    dry, real = bench.gitops_push(work / name, files, environment, dry_run=rtt == 0)
                    if dry is not None:
                        phase.dry.append(dry)
                    phase.runs[tool].append(real)
                elif tool == "kubectl":
                    phase.runs[tool].append(bench.kubectl_apply(work / name, files))
                else:
                    phase.runs[tool].append(bench.raw_apply(files, environment))
                last = phase.runs[tool][-1]
                print(
                    f"cluster: {rtt:>2} ms, round {number + 1}/{rounds} {phase.name:<6} {tool:<11} "
                    f"{last.seconds:6.2f} s, {last.requests.total} requests",
                    file=sys.stderr,
                )
        latency.prerequisites.append(bench.prerequisites(f"pre{rtt}-r{number}"))


# --- the figures -----------------------------------------------------------------------------------


def report_all(report: Report, results: Sequence[Latency], objects: int) -> None:
    loopback = next((latency for latency in results if latency.rtt_ms == 0), None)
    if loopback is not None:
        for phase in loopback.phases.values():
            report_phase(report, phase, objects)
    for latency in results:
        if latency.rtt_ms:
            for phase in latency.phases.values():
                report_latency(report, latency.rtt_ms, phase, loopback, objects)
    for latency in results:
        report_prerequisites(report, latency)
    deploys = [r for latency in results for p in latency.phases.values() for r in p.runs["gitops-push"]]
    peak = max(r.max_rss_mb for r in deploys)
    report.add(
        Figure(
            NAME,
            f"gitops-push deploy, {objects} objects: peak RSS",
            peak,
            "MB",
            f"largest of {len(deploys)} deploys (its process's getrusage ru_maxrss)",
            f"< {RSS_TARGET_MB:g} MB",
            peak < RSS_TARGET_MB,
        )
    )


def report_prerequisites(report: Report, latency: Latency) -> None:
    runs = latency.prerequisites
    if not runs:
        return
    where = f"RTT {latency.rtt_ms} ms" if latency.rtt_ms else "loopback"
    stages = ", ".join(
        f"{name} {seconds:.2f}" for name, seconds in stage_medians(runs).items() if seconds >= 0.01
    )
    report.add(
        Figure(
            NAME,
            f"gitops-push first deploy of a new Namespace, CRD, custom resource and ConfigMap, {where}",
            median([r.seconds for r in runs]),
            "s",
            f"median of {len(runs)}; {spread([r.seconds for r in runs])}; health wait included; "
            f"{median([r.requests.total for r in runs]):.0f} requests; stages, wall s: {stages}",
        )
    )


def cpu(runs: Sequence[Run]) -> str:
    proxy = median([r.proxy_cpu for r in runs])
    return (
        f"CPU: tool {median([r.tool_cpu for r in runs]):.1f} s, "
        f"kube-apiserver + etcd {median([r.server_cpu for r in runs]):.1f} s"
        + (f", latency proxy {proxy:.1f} s" if proxy else "")
    )


def stage_medians(runs: Sequence[Run], *, on_cpu: bool = False) -> dict[str, float]:
    names = dict.fromkeys(name for r in runs for name in r.stages)
    return {
        name: median([(r.stage_cpu if on_cpu else r.stages).get(name, 0.0) for r in runs]) for name in names
    }


def where_time_goes(runs: Sequence[Run], rtt_ms: int, loopback: Sequence[Run], phase: str) -> Figure:
    """Seconds off CPU, with each stage's wall-clock and CPU seconds and, beyond loopback, what grew
    since loopback, in round trips."""
    wall, on_cpu = stage_medians(runs), stage_medians(runs, on_cpu=True)
    used, total = sum(on_cpu.values()), sum(wall.values())
    stages = ", ".join(
        f"{name} {seconds:.2f} ({on_cpu.get(name, 0.0):.2f})"
        for name, seconds in wall.items()
        if seconds >= 0.01
    )
    text = f"of {total:.2f} s in its process, {used:.2f} s on CPU; stages, wall (CPU) s: {stages}"
    if rtt_ms and loopback:
        base = stage_medians(loopback)
        grown = sorted(((wall[n] - base.get(n, 0.0), n) for n in wall), reverse=True)
        growth = ", ".join(
            f"{name} +{seconds:.2f} s = {seconds / (rtt_ms / 1000):.0f} round trips"
            for seconds, name in grown[:4]
            if seconds >= 0.05
        )
        text += f"; grown since loopback: {growth or 'no stage by 0.05 s or more'}"
    where = f"RTT {rtt_ms} ms" if rtt_ms else "loopback"
    return Figure(
        NAME,
        f"gitops-push off CPU (waiting), {phase}, {where}",
        total - used,
        "s",
        text + " (medians, stage events)",
    )


def report_phase(report: Report, phase: Phase, objects: int) -> None:
    """On loopback (no proxy): the three tools, the raw-client target, request counts."""
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
        f"gitops-push deploy --no-wait --no-push, {n}",
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
    speedup = median(paired_ratios(phase))
    add(
        f"kubectl time / gitops-push time, {phase.name}, loopback",
        speedup,
        "x",
        ratio_detail(phase),
        f">= {RATIO_TARGETS[0]:g}x",
        speedup >= RATIO_TARGETS[0],
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
    report.add(where_time_goes(gp, 0, [], phase.name))
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


def report_latency(report: Report, rtt_ms: int, phase: Phase, loopback: Latency | None, objects: int) -> None:
    """Through the latency proxy: the three tools, the ratio and margin targets, request counts."""
    gp, kc, raw = (phase.runs[tool] for tool in TOOLS)
    at = f"{phase.name}, RTT {rtt_ms} ms"
    rounds = f"median of {len(gp)} round{'s' if len(gp) > 1 else ''}"
    base = loopback.phases[phase.name] if loopback is not None else None

    def add(
        name: str, value: float, unit: str, detail: str, target: str = "", met: bool | None = None
    ) -> None:
        report.add(Figure(NAME, name, value, unit, detail, target, met))

    gp_total, kc_total, raw_total = (phase.seconds(tool) for tool in TOOLS)
    for tool, runs, total in (("gitops-push deploy", gp, gp_total), ("kubectl apply", kc, kc_total)):
        add(
            f"{tool}, {objects} objects, {at}",
            total,
            "s",
            f"{rounds}; {spread([r.seconds for r in runs])}; {cpu(runs)}",
        )
    add(f"raw client: {objects} SSA PATCHes, {at}", raw_total, "s", f"{rounds}; {cpu(raw)}")
    ratio = median(paired_ratios(phase))
    target = RATIO_TARGETS.get(rtt_ms)
    add(
        f"kubectl time / gitops-push time, {at}",
        ratio,
        "x",
        ratio_detail(phase),
        f">= {target:g}x" if target is not None else "",
        ratio >= target if target is not None else None,
    )
    if rtt_ms == MARGIN_RTT_MS and base is not None:
        slower = gp_total - base.seconds("gitops-push")
        add(
            f"gitops-push at {rtt_ms} ms minus on loopback, {phase.name}",
            slower,
            "s",
            f"{gp_total:.2f} - {base.seconds('gitops-push'):.2f} s (medians)",
            f"<= {MARGIN_SECONDS:g} s",
            slower <= MARGIN_SECONDS,
        )
    report.add(where_time_goes(gp, rtt_ms, base.runs["gitops-push"] if base is not None else [], phase.name))
    count = median([r.requests.total for r in gp])
    add(
        f"gitops-push requests, {objects} objects, {at}",
        count,
        "requests",
        f"{count / objects:.2f} per object; kubectl {median([r.requests.total for r in kc]):.0f}, "
        f"raw client {median([r.requests.total for r in raw]):.0f}",
        f"<= 2n + {REQUEST_CONSTANT}",
        count <= 2 * objects + REQUEST_CONSTANT,
    )


def chart_series(results: Sequence[Latency]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{phase: {tool: [(round trip in ms, median seconds)]}}, for benchmarks/chart.py."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for latency in results:
        for phase in latency.phases.values():
            for tool in TOOLS:
                series.setdefault(phase.name, {}).setdefault(tool, []).append(
                    (latency.rtt_ms, phase.seconds(tool))
                )
    return series


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds at each round trip, each with fresh names (default 3, at most 10)",
    )
    parser.add_argument("--objects", type=int, default=OBJECTS)
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument(
        "--rtt-ms",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(RTTS_MS),
        help="round-trip times in ms, comma-separated (default 0,5,20,50; 0: no proxy)",
    )
    parser.add_argument(
        "--chart", type=Path, metavar="PNG", help="also draw the times against the round trip"
    )
    parser.add_argument("--keep", action="store_true", help="leave the devcluster running")
    parser.add_argument("--cluster-name", default=CLUSTER, help=f"the devcluster's name (default {CLUSTER})")
    args = parser.parse_args()
    report = Report()
    results = run(
        report,
        rounds=args.rounds,
        objects=args.objects,
        namespaces=args.namespaces,
        keep=args.keep,
        rtts_ms=args.rtt_ms,
        cluster_name=args.cluster_name,
    )
    print_report(report, "gitops-push against a devcluster")
    if args.chart:
        import chart

        chart.latency_chart(chart_series(results), args.chart, objects=args.objects, machine=report.header())
    return 0


if __name__ == "__main__":
    sys.exit(main())
