"""A synthetic Git repository of Kubernetes manifests for the benchmarks: deterministic and seedable.

    python benchmarks/generate.py OUT                  # OUT/large (10,000 objects) and OUT/small (100)
    python benchmarks/generate.py OUT --objects 2000 --files 400 --commits 300 --deploys 100 --seed 7

A repository holds OBJECTS objects in FILES files under `k8s/`: ConfigMaps, Services, Deployments
and Secrets spread over several namespaces (8, or 4 below 1,000 objects), one Namespace object each
in `k8s/namespaces.yaml`, about 40 % of the files holding one document and the rest several. Its
history has COMMITS commits, written with one `git fast-import` stream (no `git commit` per commit):
the first adds every file, each later one edits one to three objects, and the last four edit the
CHANGES (20) objects that the benchmarks plan, four at a time from five files. The annotated tag
`deployed/bench/<time>` marks the commit before those four, as a gitops-push deploy tag would, and
DEPLOYS - 1 (0 unless asked) older deploy tags mark commits spread over the history before it.

The same seed gives the same files, commits and tag, byte for byte (every date is fixed), so the
small variant (100 objects in 20 files) gets the same 20 changes to the same kinds of object.
`ensure()` keeps generated repositories in the cache folder, keyed by their parameters and this
file's contents, so the benchmarks generate each one once per machine.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cache_root

MANIFESTS = "k8s"
ENVIRONMENT = "bench"
TAG_PREFIX = f"deployed/{ENVIRONMENT}"
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: every date in the history is fixed
COMMIT_SECONDS = 600
IDENTITY = b"Bench Generator <bench@example.invalid>"
CHANGE_COMMITS = 4
OBJECTS_PER_CHANGED_FILE = 4
# kind -> share of the objects that are not Namespaces
KIND_SHARES = (("ConfigMap", 30), ("Deployment", 25), ("Service", 25), ("Secret", 20))
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Spec:
    objects: int = 10_000
    files: int = 2_000
    commits: int = 1_000
    changes: int = 20
    seed: int = 1
    namespaces: int = 0  # 0: 8, or 4 below 1,000 objects
    deploys: int = 1  # deploy tags: the last before the changes, the others on earlier commits

    @property
    def namespace_count(self) -> int:
        return self.namespaces or (8 if self.objects >= 1_000 else 4)

    def check(self) -> None:
        if self.files < 2 or self.objects < self.files + self.namespace_count:
            raise ValueError("need at least two files and one object per file besides the Namespaces")
        if self.commits < CHANGE_COMMITS + 2:
            raise ValueError(f"need at least {CHANGE_COMMITS + 2} commits")
        if self.changes < 1 or self.changes > self.objects // 2:
            raise ValueError("changes must be between 1 and half the objects")
        if not 1 <= self.deploys <= self.commits - CHANGE_COMMITS:
            raise ValueError("need between 1 deploy tag and one for every commit before the changes")


LARGE = Spec()
SMALL = Spec(objects=100, files=20)
# SMALL with a deploy tag on every commit before the change: a long-lived environment's history
HISTORY = Spec(objects=100, files=20, deploys=SMALL.commits - CHANGE_COMMITS)


@dataclass
class Obj:
    kind: str
    name: str
    namespace: str | None
    revision: int = 0

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass
class File:
    path: str
    objects: list[Obj]


@dataclass
class Generated:
    """What was generated, as the benchmarks need it."""

    root: str
    manifests: str
    environment: str
    objects: int
    files: int
    commits: int
    head: str
    tag: str
    tag_commit: str
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def path(self) -> Path:
        return Path(self.root)


# --- object bodies -------------------------------------------------------------------------------


def body(obj: Obj) -> dict[str, Any]:
    return _MAKERS[obj.kind](obj)


def _metadata(obj: Obj, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": obj.name}
    if obj.namespace:
        metadata["namespace"] = obj.namespace
    metadata.update(extra)
    return metadata


def _namespace(obj: Obj) -> dict[str, Any]:
    labels = {"team": obj.name.rsplit("-", 1)[-1], "bench.example/revision": str(obj.revision)}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(obj, labels=labels)}


def _config_map(obj: Obj) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(obj, labels={"app": obj.name}),
        "data": {
            "MODE": "production",
            "REVISION": str(obj.revision),
            "settings.yaml": f"name: {obj.name}\nrevision: {obj.revision}\nlevel: info\nretries: 3\n",
        },
    }


def _secret(obj: Obj) -> dict[str, Any]:
    def encoded(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(obj, labels={"app": obj.name}),
        "type": "Opaque",
        "data": {
            "username": encoded(f"user-{obj.name}"),
            "password": encoded(hashlib.sha256(f"{obj.name}/{obj.revision}".encode()).hexdigest()[:24]),
        },
    }


def _service(obj: Obj) -> dict[str, Any]:
    port = 8000 + int(hashlib.sha256(obj.name.encode()).hexdigest()[:4], 16) % 1000
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(
            obj, labels={"app": obj.name}, annotations={"bench.example/revision": str(obj.revision)}
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": obj.name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"},
                {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def _deployment(obj: Obj) -> dict[str, Any]:
    labels = {"app": obj.name, "tier": "backend"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(obj, labels=labels),
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {"app": obj.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"prometheus.io/scrape": "true"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"registry.example/{obj.name}:1.{obj.revision}.0",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["--config", "/etc/app/settings.yaml"],
                            "ports": [
                                {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                            ],
                            "env": [
                                {"name": "MODE", "value": "production"},
                                {
                                    "name": "PASSWORD",
                                    "valueFrom": {"secretKeyRef": {"name": obj.name, "key": "password"}},
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": 1, "memory": "256Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": "http"},
                                "periodSeconds": 5,
                            },
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": obj.name}}],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                },
            },
        },
    }


_MAKERS = {
    "Namespace": _namespace,
    "ConfigMap": _config_map,
    "Secret": _secret,
    "Service": _service,
    "Deployment": _deployment,
}


def render(obj: Obj) -> str:
    return str(yaml.dump(body(obj), Dumper=_DUMPER, sort_keys=False, default_flow_style=False))


def cluster_objects(
    namespaces: list[str], count: int, *, revision: int = 0, per_file: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """For bench_cluster.py: COUNT objects over NAMESPACES, one in five a Service and the others
    ConfigMaps and Deployments in turn, PER_FILE to a file, as {relative path: bodies}. REVISION
    changes every object (a ConfigMap value, a Service annotation, a Deployment's image). Deployments
    have 0 replicas: the benchmark measures the deploying tool, not the controllers and kwok starting
    pods. Services get a cluster address, as they would in a real cluster."""
    kinds = ("ConfigMap", "Deployment", "ConfigMap", "Deployment", "Service")
    files: dict[str, list[dict[str, Any]]] = {}
    for index in range(count):
        namespace = namespaces[index % len(namespaces)]
        slot = index // len(namespaces)
        obj = Obj(kinds[slot % len(kinds)], f"obj-{index:05d}", namespace, revision)
        made = body(obj)
        if obj.kind == "Deployment":
            made["spec"]["replicas"] = 0
        files.setdefault(f"{MANIFESTS}/{namespace}/part-{slot // per_file:04d}.yaml", []).append(made)
    return files


def write_files(root: Path, files: dict[str, list[dict[str, Any]]]) -> None:
    for relative, bodies in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "---\n".join(
                yaml.dump(b, Dumper=_DUMPER, sort_keys=False, default_flow_style=False) for b in bodies
            )
        )


# --- layout --------------------------------------------------------------------------------------


def layout(spec: Spec, rng: random.Random) -> list[File]:
    """Namespaces in one file, then the other objects over FILES - 1 files, ~40 % single-document."""
    namespaces = [f"bench-{n}" for n in range(spec.namespace_count)]
    files = [File(f"{MANIFESTS}/namespaces.yaml", [Obj("Namespace", ns, None) for ns in namespaces])]
    rest = spec.objects - len(namespaces)
    app_files = spec.files - 1
    sizes = [1] * app_files
    multi = [i for i in range(app_files) if rng.random() >= 0.4] or [0]
    for _ in range(rest - app_files):
        sizes[rng.choice(multi)] += 1
    kinds = [kind for kind, share in KIND_SHARES for _ in range(share)]
    for index, size in enumerate(sizes):
        namespace = namespaces[index % len(namespaces)]
        app = f"app-{index:05d}"
        objects = []
        for number in range(size):
            kind = kinds[rng.randrange(len(kinds))]
            objects.append(Obj(kind, f"{app}-{kind.lower()[:3]}-{number}", namespace))
        files.append(File(f"{MANIFESTS}/{namespace}/{app}.yaml", objects))
    return files


def pick_changes(files: list[File], count: int, rng: random.Random) -> list[tuple[File, Obj]]:
    """COUNT objects, four per file from a few multi-document files (more per file if they run short)."""
    candidates = [f for f in files[1:] if len(f.objects) >= 2]
    rng.shuffle(candidates)
    chosen: list[tuple[File, Obj]] = []
    for window in (slice(0, OBJECTS_PER_CHANGED_FILE), slice(OBJECTS_PER_CHANGED_FILE, None)):
        for file in candidates:
            chosen += [(file, obj) for obj in file.objects[window]]
            if len(chosen) >= count:
                return chosen[:count]
    raise ValueError(f"cannot pick {count} changed objects from multi-document files")


# --- the fast-import stream ----------------------------------------------------------------------


class Texts:
    """File texts, each object rendered once per revision."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[int, str]] = {}

    def object(self, obj: Obj) -> str:
        cached = self._cache.get(id(obj))
        if cached is None or cached[0] != obj.revision:
            cached = (obj.revision, render(obj))
            self._cache[id(obj)] = cached
        return cached[1]

    def file(self, file: File) -> bytes:
        return "---\n".join(self.object(o) for o in file.objects).encode()


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _commit(number: int, message: str, changed: list[File], texts: Texts) -> Iterator[bytes]:
    stamp = b"%d +0000" % (EPOCH + number * COMMIT_SECONDS)
    yield b"commit refs/heads/main\nmark :%d\n" % (number + 1)
    yield b"author %s %s\ncommitter %s %s\n" % (IDENTITY, stamp, IDENTITY, stamp)
    yield _data(message.encode())
    if number > 0:
        yield b"from :%d\n" % number
    for file in changed:
        yield b"M 100644 inline %s\n" % file.path.encode()
        yield _data(texts.file(file))
    yield b"\n"


def _tag(name: str, commit_number: int, message: str) -> bytes:
    stamp = b"%d +0000" % (EPOCH + commit_number * COMMIT_SECONDS + COMMIT_SECONDS // 2)
    return b"tag %s\nfrom :%d\ntagger %s %s\n%s" % (
        name.encode(),
        commit_number + 1,
        IDENTITY,
        stamp,
        _data(message.encode()),
    )


def _earlier_deploys(tag_commit: int, count: int) -> list[int]:
    """The commits of `count` earlier deploys, spread evenly over the history before `tag_commit`."""
    return [tag_commit * n // (count + 1) for n in range(1, count + 1)]


def _tag_name(commit_number: int) -> str:
    moment = datetime.datetime.fromtimestamp(
        EPOCH + commit_number * COMMIT_SECONDS + COMMIT_SECONDS // 2, datetime.UTC
    )
    return f"{TAG_PREFIX}/{moment:%Y%m%dT%H%M%SZ}"


def _tag_message(tag_commit: int, objects: int) -> str:
    metadata = {
        "gitops_push": 1,
        "tool": "benchmarks/generate.py",
        "environment": ENVIRONMENT,
        "counts": {"created": objects, "updated": 0, "pruned": 0, "unchanged": 0},
        "ci": {"system": "local", "actor": "bench", "run": ""},
    }
    subject = f"gitops-push: deployed commit {tag_commit + 1} of the benchmark history to {ENVIRONMENT}"
    return f"{subject}\n\n{json.dumps(metadata, indent=2, sort_keys=True)}\n"


def stream(spec: Spec) -> tuple[Iterator[bytes], str, list[str]]:
    """The fast-import stream, the tag's name and the changed objects (as 'Kind ns/name')."""
    spec.check()
    rng = random.Random(spec.seed)  # noqa: S311 - reproducible test data, not secrets
    files = layout(spec, rng)
    changes = pick_changes(files, spec.changes, rng)
    changed_ids = {id(obj) for _, obj in changes}
    editable = [(f, o) for f in files[1:] for o in f.objects if id(o) not in changed_ids]
    history = spec.commits - CHANGE_COMMITS
    tag_commit = history - 1
    tag = _tag_name(tag_commit)

    def chunks() -> Iterator[bytes]:
        texts = Texts()
        yield from _commit(0, "Add the benchmark manifests", files, texts)
        for number in range(1, history):
            edited: dict[int, File] = {}
            for _ in range(rng.randint(1, 3)):
                file, obj = editable[rng.randrange(len(editable))]
                obj.revision += 1
                edited[id(file)] = file
            yield from _commit(number, f"Routine change {number}", list(edited.values()), texts)
        for earlier in _earlier_deploys(tag_commit, spec.deploys - 1):
            yield _tag(_tag_name(earlier), earlier, _tag_message(earlier, spec.objects))
        yield _tag(tag, tag_commit, _tag_message(tag_commit, spec.objects))
        per_commit = -(-len(changes) // CHANGE_COMMITS)
        for step in range(CHANGE_COMMITS):
            batch = changes[step * per_commit : (step + 1) * per_commit]
            touched: dict[int, File] = {}
            for file, obj in batch:
                obj.revision += 1
                touched[id(file)] = file
            message = f"Change {len(batch)} objects ({step + 1} of {CHANGE_COMMITS})"
            yield from _commit(history + step, message, list(touched.values()), texts)
        yield b"done\n"

    return chunks(), tag, sorted(obj.ref for _, obj in changes)


def generate(out: Path, spec: Spec) -> Generated:
    """Write a new repository at OUT (which must not exist) and check it out."""
    started = time.perf_counter()
    out.mkdir(parents=True)
    git = ["git", "-C", str(out)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    chunks, tag, changed = stream(spec)
    importer = subprocess.Popen([*git, "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)
    assert importer.stdin is not None
    try:
        for chunk in chunks:
            importer.stdin.write(chunk)
        importer.stdin.close()
    finally:
        if importer.wait() != 0:
            raise RuntimeError(f"git fast-import failed for {out}")
    subprocess.run([*git, "reset", "-q", "--hard", "main"], check=True)
    head = _output(git, "rev-parse", "HEAD")
    return Generated(
        root=str(out),
        manifests=MANIFESTS,
        environment=ENVIRONMENT,
        objects=spec.objects,
        files=spec.files,
        commits=int(_output(git, "rev-list", "--count", "HEAD")),
        head=head,
        tag=tag,
        tag_commit=_output(git, "rev-parse", f"{tag}^{{commit}}"),
        changed=changed,
        seconds=time.perf_counter() - started,
    )


def _output(git: list[str], *args: str) -> str:
    return subprocess.run([*git, *args], capture_output=True, text=True, check=True).stdout.strip()


def ensure(spec: Spec, folder: Path | None = None) -> Generated:
    """The repository for SPEC from the cache folder, generated there first if missing."""
    key = hashlib.sha256(
        json.dumps(asdict(spec), sort_keys=True).encode() + Path(__file__).read_bytes()
    ).hexdigest()[:12]
    base = folder or cache_root() / "bench" / "repos"
    out = base / (
        f"objects{spec.objects}-files{spec.files}-commits{spec.commits}-deploys{spec.deploys}"
        f"-seed{spec.seed}-{key}"
    )
    record = out.with_suffix(".json")
    if record.exists() and out.is_dir():
        return Generated(**json.loads(record.read_text()))
    stem = out.name.rsplit("-", 1)[0]
    for stale in base.glob(f"{stem}-*"):  # made by an earlier version of this file
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    generated = generate(out, spec)
    record.write_text(json.dumps(asdict(generated), indent=2))
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder to create (it must not exist)")
    parser.add_argument("--objects", type=int, help="one repository of this many objects")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--commits", type=int, default=LARGE.commits)
    parser.add_argument("--changes", type=int, default=LARGE.changes)
    parser.add_argument("--namespaces", type=int, default=0)
    parser.add_argument("--deploys", type=int, default=LARGE.deploys, help="deploy tags (default 1)")
    parser.add_argument("--seed", type=int, default=LARGE.seed)
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists")
    common = {"commits": args.commits, "changes": args.changes, "deploys": args.deploys, "seed": args.seed}
    if args.objects:
        files = args.files or max(2, args.objects // 5)
        targets = {args.out: Spec(objects=args.objects, files=files, namespaces=args.namespaces, **common)}
    else:
        targets = {
            args.out / "large": Spec(objects=LARGE.objects, files=LARGE.files, **common),
            args.out / "small": Spec(objects=SMALL.objects, files=SMALL.files, **common),
        }
    for out, spec in targets.items():
        made = generate(out, spec)
        print(
            f"{out}: {made.objects:,} objects in {made.files:,} files, {made.commits:,} commits, "
            f"tag {made.tag} on {made.tag_commit[:12]} ({len(made.changed)} changed objects behind HEAD "
            f"{made.head[:12]}), in {made.seconds:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
