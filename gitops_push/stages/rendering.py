"""Rendered sources: a kustomization or a Helm chart at one commit, turned into objects with origins.

The pipeline calls `find_tools(sources)` once per run (a missing renderer fails the run before any
work, exit 2), then `render_all(repo, [(commit, source), ...], tools=..., cache_dir=...)` for every
source on each side of the commit range (`render` for one), and feeds `Rendering.objects` into the
same change set as plain files. Git is read for one rendering after the other; the tools of those
not in the cache then run side by side. Nothing is read from the working tree and nothing is fetched:

1. `render_inputs` reads, from Git objects, which folders and files the source needs: for
   kustomize the kustomization folder and every folder its `resources`, `bases`, `components`,
   `generators`, `transformers` and `validators` name, recursively (kustomize's default load
   restrictor keeps every other file it reads inside those folders); for Helm the chart folder and
   the values files. Remote bases are refused here, naming the kustomization file and entry.
2. The cache key is the object ids of those inputs, the tool and its version and the source spec.
   A key seen before is read back from `<cache_dir>/renderings/` and no tool runs.
3. Otherwise exactly the inputs are exported into a fresh temporary folder and the tool runs there
   with no network: `kustomize build` (or `kubectl kustomize`) through a wrapper kustomization that
   asks for origin annotations, or `helm template --include-crds` with isolated Helm homes and
   without `--dependency-update` (a chart dependency not vendored under `charts/` is refused).
4. Each rendered document gets its origin: the file in the repository it came from (kustomize's
   `config.kubernetes.io/origin` annotation, removed from the object; Helm's `# Source:` comment)
   and the line of its document. For kustomize that is the line in the source file (basis BUILT:
   the build may have changed the object's fields since); a Helm template's lines are not its
   output's, so a Helm origin's line counts in the template's rendered text, as
   `helm template --show-only <template>` prints it (basis RENDERED). `Rendering.texts` holds the
   text those lines count in (the source files as Git has them at the commit; each template's
   rendered text), so that a later finding can name the line of a field. Helm objects are classified as plain
   objects, hooks (phases, weight, delete policies: `Rendering.hooks(phase)` gives them in the
   order Helm runs them) or dropped (`helm test` pods, hooks that run only on delete or rollback).

A rendering is a pure function of its inputs only if the chart is: a template that calls
`randAlphaNum` or `genCA` renders differently each time, and the cache is what keeps such an object
from changing on every deploy while its inputs do not.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import enum
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from gitops_push import yamltext
from gitops_push.errors import ConfigError, RendererMissing, RenderFailed, SourceRefused
from gitops_push.gitrepo import GitEntry, GitRepo
from gitops_push.model import LineBasis, Skipped, SourceLocation

# Part of every cache key: bump it when the cached JSON changes shape or when the way a tool is run
# or its output read changes (flags, origins, classification), so that old entries are never read.
CACHE_FORMAT = 2
RENDER_TIMEOUT = 300.0  # seconds for one tool run; a chart that loops forever must not hang CI
VERSION_TIMEOUT = 30.0
STDERR_LINES = 20  # of a failed tool's output, in the error message
# No garbage collection until the heap reaches the soft limit, then collection as the limit needs:
# a renderer's heap is tens of MB, and the limit bounds one that is not (Go 1.19+ reads GOMEMLIMIT).
GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "1GiB"}

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")  # kustomize's order
# Kustomization fields whose entries may name other kustomization folders (or remote bases).
KUSTOMIZE_REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
# Fields whose entries may instead be inline YAML (a plugin configuration), never a path.
KUSTOMIZE_INLINE_FIELDS = {"generators", "transformers", "validators"}
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
# The generator kinds kustomize names in `configuredBy`, and the kustomization field that holds them.
GENERATOR_FIELDS = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}
REMOTE_PREFIXES = ("git@", "git::", "github.com/", "gitlab.com/", "bitbucket.org/", "ssh:", "oci:")

HOOK_ANNOTATION = "helm.sh/hook"
HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HOOK_DELETE_ANNOTATION = "helm.sh/hook-delete-policy"
TEST_HOOKS = {"test", "test-success"}  # test-success is Helm 2's name, still honoured by Helm 3
SOURCE_COMMENT = "# Source: "


# --- source specs ----------------------------------------------------------------------------------


def repo_path(path: str, what: str) -> str:
    """`path` as Git spells it (no "./", no trailing "/", "" for the root); ConfigError if it leaves the repo."""
    cleaned = posixpath.normpath(path.strip()) if path.strip() else "."
    if cleaned.startswith("/") or cleaned == ".." or cleaned.startswith("../"):
        raise ConfigError(
            f"{what} {path!r} is outside the repository", hint="name it relative to the repository root"
        )
    return "" if cleaned == "." else cleaned


@dataclass(frozen=True)
class KustomizeSource:
    """A folder holding a kustomization file, relative to the repository root ("" is the root)."""

    path: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", repo_path(self.path, "kustomize source"))


@dataclass(frozen=True)
class HelmSource:
    """A chart folder rendered as `helm template RELEASE CHART --namespace NAMESPACE -f VALUES... --set ...`.

    `values` are files relative to the repository root, applied in order; `set_values` are
    `key=value` strings passed to `--set` as they are, after the files.
    """

    chart: str
    release: str
    namespace: str
    values: tuple[str, ...] = ()
    set_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "chart", repo_path(self.chart, "chart"))
        object.__setattr__(self, "values", tuple(repo_path(v, "values file") for v in self.values))
        bad = [s for s in self.set_values if "=" not in s]
        if bad:
            raise ConfigError(f"helm set value {bad[0]!r} has no '='", hint="write it as key=value")
        if not self.release or not self.namespace:
            raise ConfigError(f"the helm source {self.chart} needs a release name and a namespace")


Source = KustomizeSource | HelmSource


# --- tools -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """A renderer found on PATH: `command` + the folder or chart arguments renders; `version` as it says."""

    name: str  # "kustomize", "kubectl kustomize" or "helm"
    # ("/…/kustomize", "build"), ("/…/kubectl", "kustomize") or ("/…/helm", "template")
    command: tuple[str, ...]
    version: str  # "v5.8.2"; "kubectl v1.36.3, kustomize v5.7.1"; "v3.21.4"


@dataclass(frozen=True)
class Tools:
    """The renderers a run uses; None where no source needs it (or it was not looked for)."""

    kustomize: Tool | None = None
    helm: Tool | None = None

    def versions(self) -> dict[str, str]:
        """Tool name to version, for the JSON output and the deploy tag's metadata."""
        return {tool.name: tool.version for tool in (self.kustomize, self.helm) if tool is not None}

    def for_source(self, source: Source) -> Tool:
        tool = self.helm if isinstance(source, HelmSource) else self.kustomize
        if tool is None:
            raise _missing("helm" if isinstance(source, HelmSource) else "kustomize")
        return tool


def find_tools(sources: Iterable[Source], *, search_path: str | None = None) -> Tools:
    """Find the renderers `sources` need on `search_path` (default: PATH) and ask their versions.

    kustomize is looked for as `kustomize`, then as `kubectl kustomize`; Helm as `helm`. A renderer
    that a source needs and that is not found raises RendererMissing (exit 2) naming it.
    """
    kinds = {type(source) for source in sources}
    kustomize = _find_kustomize(search_path) if KustomizeSource in kinds else None
    helm = _find_helm(search_path) if HelmSource in kinds else None
    return Tools(kustomize=kustomize, helm=helm)


def _find_kustomize(search_path: str | None) -> Tool:
    found = shutil.which("kustomize", path=search_path)
    if found:
        return Tool("kustomize", (found, "build"), _version_output([found, "version"]))
    kubectl = shutil.which("kubectl", path=search_path)
    if kubectl:
        report = json.loads(_version_output([kubectl, "version", "--client", "-o", "json"]))
        client = report.get("clientVersion", {}).get("gitVersion", "unknown")
        version = f"kubectl {client}, kustomize {report.get('kustomizeVersion', 'unknown')}"
        return Tool("kubectl kustomize", (kubectl, "kustomize"), version)
    raise _missing("kustomize")


def _find_helm(search_path: str | None) -> Tool:
    found = shutil.which("helm", path=search_path)
    if not found:
        raise _missing("helm")
    return Tool("helm", (found, "template"), _version_output([found, "version", "--short"]))


def _missing(tool: str) -> RendererMissing:
    if tool == "helm":
        return RendererMissing(
            "helm is not on PATH: a helm source needs it to render its chart",
            hint="install Helm 3 (https://helm.sh/docs/intro/install/) so that `helm` is on PATH; "
            "in a checkout of gitops-push, tools/build-renderers builds the pinned one",
        )
    return RendererMissing(
        "neither kustomize nor kubectl is on PATH: a kustomize source needs one to render",
        hint="install kustomize 5 (https://kubectl.docs.kubernetes.io/installation/kustomize/) or "
        "kubectl, so that `kustomize` or `kubectl kustomize` runs; in a checkout of gitops-push, "
        "tools/build-renderers builds the pinned kustomize",
    )


def _version_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=VERSION_TIMEOUT,
            check=False,
            env=_tool_env(None),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RendererMissing(f"`{' '.join(argv)}` could not run: {exc}") from exc
    if result.returncode != 0:
        raise RendererMissing(f"`{' '.join(argv)}` failed: {_tail(result.stderr)}")
    return result.stdout.strip()


def _tool_env(home: Path | None) -> dict[str, str]:
    """A renderer's environment: no user configuration, plugins or repositories, and no way out.

    The proxy points at a closed local port, so anything the refusals above missed fails at once
    instead of fetching; Git (used by kustomize for remote bases) may use no transport at all.

    Both tools are Go programs that live for a fraction of a second: Go's collector, run at its
    default pace, took a fifth to a third of a `kustomize build` (GO_RUNTIME below). A variable the
    user set is passed on instead.
    """
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    env |= {name: os.environ.get(name, value) for name, value in GO_RUNTIME.items()}
    if home is not None:
        env |= {
            "HOME": str(home),
            "KUBECONFIG": str(home / "no-kubeconfig"),
            "HELM_CACHE_HOME": str(home / "helm-cache"),
            "HELM_CONFIG_HOME": str(home / "helm-config"),
            "HELM_DATA_HOME": str(home / "helm-data"),
            "HELM_PLUGINS": str(home / "helm-plugins"),
            "KUSTOMIZE_PLUGIN_HOME": str(home / "kustomize-plugins"),
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
            "GIT_ALLOW_PROTOCOL": "none",
        }
    return env


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-STDERR_LINES:]) or "(no output)"


# --- results ---------------------------------------------------------------------------------------


class HookPhase(enum.Enum):
    """The Helm hook phases a push deploy runs: install on an environment's first deploy, else upgrade."""

    PRE_INSTALL = "pre-install"
    PRE_UPGRADE = "pre-upgrade"
    POST_INSTALL = "post-install"
    POST_UPGRADE = "post-upgrade"


class DeletePolicy(enum.Enum):
    BEFORE_HOOK_CREATION = "before-hook-creation"  # delete the previous run's object first (the default)
    HOOK_SUCCEEDED = "hook-succeeded"  # delete it once it succeeded
    HOOK_FAILED = "hook-failed"  # delete it if it failed


@dataclass(frozen=True)
class Hook:
    """A Helm hook: when it runs, its weight (lower first), and when its object is deleted."""

    phases: frozenset[HookPhase]
    weight: int
    delete_policies: frozenset[DeletePolicy]


@dataclass(frozen=True)
class RenderedObject:
    """One rendered object, origin annotations removed; `hook` is None for an object applied as usual."""

    body: Mapping[str, Any]
    origin: SourceLocation  # the source file in the repository; line 1 where the line is not known
    hook: Hook | None = None


@dataclass(frozen=True)
class Input:
    """A folder ("tree") or file ("blob") a rendering reads, with its Git object id at the commit."""

    path: str
    kind: str
    object_id: str


@dataclass(frozen=True)
class Rendering:
    """What one source renders to at one commit."""

    source: Source
    commit: str
    tool: Tool
    inputs: tuple[Input, ...]
    key: str  # the cache key: equal keys render equal objects
    objects: tuple[RenderedObject, ...]  # plain objects and hooks, in the tool's output order
    dropped: tuple[Skipped, ...] = ()  # helm test pods, delete and rollback hooks: never deployed
    # The text each origin's lines count in, by path: a kustomize source file as Git has it at the
    # commit, or a Helm template's rendered text. Read only to put a failing field's line on a finding.
    texts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    cached: bool = False  # read back from the cache: no tool ran

    @property
    def default_namespace(self) -> str | None:
        """The namespace of objects that name none: Helm's release namespace (as `helm install` does).

        None for kustomize: its output says what its `namespace:` fields say, and an object without one
        takes the environment's default namespace, as a plain file's does.
        """
        return self.source.namespace if isinstance(self.source, HelmSource) else None

    @property
    def plain(self) -> tuple[RenderedObject, ...]:
        """The objects applied, pruned and waited on like plain manifests."""
        return tuple(o for o in self.objects if o.hook is None)

    def hooks(self, phase: HookPhase) -> tuple[RenderedObject, ...]:
        """The hooks of `phase` in the order Helm runs them: by weight, then by name (stable otherwise)."""
        chosen = [o for o in self.objects if o.hook is not None and phase in o.hook.phases]
        return tuple(sorted(chosen, key=lambda o: (_weight(o), _name(o))))


class _Output(NamedTuple):
    """What one tool run gives a Rendering (and the cache keeps)."""

    objects: tuple[RenderedObject, ...]
    dropped: tuple[Skipped, ...]
    texts: dict[str, str]


def _weight(rendered: RenderedObject) -> int:
    return rendered.hook.weight if rendered.hook is not None else 0


def _name(rendered: RenderedObject) -> str:
    return _name_of(rendered.body)


# --- render ----------------------------------------------------------------------------------------


def render(repo: GitRepo, commit: str, source: Source, *, tools: Tools, cache_dir: Path) -> Rendering:
    """Render `source` as it is at `commit`; from the cache under `cache_dir` when its inputs were seen.

    Raises SourceRefused (a remote base, a chart dependency not vendored), RenderFailed (the tool
    failed, or an input is missing at `commit`) and RendererMissing (no tool for the source).
    """
    [rendering] = render_all(repo, [(commit, source)], tools=tools, cache_dir=cache_dir)
    return rendering


def render_all(
    repo: GitRepo, wanted: Sequence[tuple[str, Source]], *, tools: Tools, cache_dir: Path
) -> list[Rendering]:
    """`render` for each (commit, source) of `wanted`, in that order, the tool runs side by side.

    Git is read for one rendering after the other (the repository's connection to Git serves one
    question at a time); what is not in the cache is exported, and then the tools, which read only
    their exported folders, run at once: a cold plan renders the base and head of a range in the
    time of one.
    """
    with contextlib.ExitStack() as scratch:
        jobs = [_job(repo, commit, source, tools, cache_dir, scratch) for commit, source in wanted]
        pending = [job for job in jobs if job.output is None]
        if len(pending) > 1:
            # Not cancelling.parallel(): it returns at the first failure without waiting, and the
            # scratch folders would be removed under a renderer that is still running.
            import concurrent.futures  # here: see cancelling.parallel

            with concurrent.futures.ThreadPoolExecutor(max_workers=len(pending)) as pool:
                outputs = list(pool.map(_run_job, pending))
        else:
            outputs = [_run_job(job) for job in pending]
    for job, output in zip(pending, outputs, strict=True):
        _write_cache(cache_dir, job.key, output)
        job.output = output
    return [_rendering(job) for job in jobs]


@dataclass
class _Job:
    """One rendering on its way: its cache key, and its output once read from the cache or rendered."""

    source: Source
    commit: str
    tool: Tool
    inputs: tuple[Input, ...]
    key: str
    work: Path | None = None  # the folder its inputs were exported to, while it waits for its tool
    output: _Output | None = None
    cached: bool = False


def _job(
    repo: GitRepo, commit: str, source: Source, tools: Tools, cache_dir: Path, scratch: contextlib.ExitStack
) -> _Job:
    tool = tools.for_source(source)
    inputs = render_inputs(repo, commit, source)
    key = cache_key(source, tool, inputs)
    job = _Job(source, commit, tool, inputs, key, output=_read_cache(cache_dir, key))
    job.cached = job.output is not None
    if job.output is None:
        job.work = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="gitops-push-render-")))
        repo.export(commit, [i.path for i in inputs], job.work / "repo")
    return job


def _rendering(job: _Job) -> Rendering:
    assert job.output is not None
    return Rendering(job.source, job.commit, job.tool, job.inputs, job.key, *job.output, cached=job.cached)


def _run_job(job: _Job) -> _Output:
    assert job.work is not None
    if isinstance(job.source, HelmSource):
        return _render_helm(job.source, job.tool, job.work)
    return _render_kustomize(job.source, job.tool, job.work)


def cache_key(source: Source, tool: Tool, inputs: Sequence[Input]) -> str:
    spec = {"kind": type(source).__name__, **dataclasses.asdict(source)}
    material = {
        "format": CACHE_FORMAT,
        "tool": [tool.name, tool.version],
        "source": spec,
        "inputs": [[i.path, i.kind, i.object_id] for i in inputs],
    }
    import hashlib  # here: loading OpenSSL's digests takes 3 ms that plain manifests never need

    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def exists_at(repo: GitRepo, commit: str, source: Source) -> bool:
    """Whether the source's folder (kustomization folder or chart) is in `commit`.

    A source added after an environment's last deploy is absent on the old side of the range: the
    pipeline renders nothing there instead of failing (render() raises RenderFailed for it).
    """
    folder = source.chart if isinstance(source, HelmSource) else source.path
    return repo.tree_id(commit, folder) is not None


def render_inputs(repo: GitRepo, commit: str, source: Source) -> tuple[Input, ...]:
    """The folders and files `source` reads at `commit`, with their Git object ids, sorted by path.

    Two commits whose inputs are equal render the same objects, so the pipeline may skip a source
    whose inputs a commit range leaves alone.
    """
    if isinstance(source, HelmSource):
        return _helm_inputs(repo, commit, source)
    return _kustomize_inputs(repo, commit, source)


def _helm_inputs(repo: GitRepo, commit: str, source: HelmSource) -> tuple[Input, ...]:
    found = repo.entries(commit, [source.chart, *source.values])
    chart = found.get(source.chart)
    if chart is None or chart.kind != "tree":
        raise RenderFailed(f"chart folder {source.chart or '.'} is not in commit {commit[:12]}")
    inputs = [_input(chart)]
    for values in source.values:
        entry = found.get(values)
        if entry is None or entry.kind != "blob":
            raise RenderFailed(
                f"values file {values} is not in commit {commit[:12]}",
                hint="commit the values file, or fix its path in the helm source",
            )
        if not _inside(values, source.chart):
            inputs.append(_input(entry))
    return tuple(sorted(inputs, key=lambda i: i.path))


def _input(entry: GitEntry) -> Input:
    return Input(entry.path, entry.kind, entry.object_id)


def _inside(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")


# --- kustomize inputs ------------------------------------------------------------------------------


def _kustomize_inputs(repo: GitRepo, commit: str, source: KustomizeSource) -> tuple[Input, ...]:
    """Walk the kustomization folders from `source.path`, reading each kustomization file from Git."""
    start = repo.entries(commit, [source.path]).get(source.path)
    if start is None or start.kind != "tree":
        raise RenderFailed(f"kustomize folder {source.path or '.'} is not in commit {commit[:12]}")
    folders: dict[str, GitEntry] = {source.path: start}
    files: dict[str, GitEntry] = {}
    queue = [source.path]
    while queue:
        folder = queue.pop(0)
        for entry in _references(repo, commit, folder):
            if entry.kind == "tree" and entry.path not in folders:
                folders[entry.path] = entry
                queue.append(entry.path)
            elif entry.kind != "tree":
                files[entry.path] = entry
    return _outermost([*folders.values(), *files.values()])


def _outermost(entries: Sequence[GitEntry]) -> tuple[Input, ...]:
    """The entries not inside another entry's folder: an outer folder's id already covers them."""
    trees = [e.path for e in entries if e.kind == "tree"]
    kept = [e for e in entries if not any(t != e.path and _inside(e.path, t) for t in trees)]
    return tuple(sorted((_input(e) for e in kept), key=lambda i: i.path))


def _references(repo: GitRepo, commit: str, folder: str) -> list[GitEntry]:
    """The folders and files the kustomization in `folder` names; refuses remote and missing ones."""
    path, text = _kustomization(repo, commit, folder)
    data = _kustomization_data(path, text)
    if "helmCharts" in data:
        raise SourceRefused(
            "helmCharts needs `kustomize build --enable-helm`, which pulls charts at render time",
            location=SourceLocation(path, yamltext.line_of(text, 0, ["helmCharts"]) or 1),
            hint="render the chart with a helm source (its folder vendored in the repository) instead",
        )
    named = list(_named_entries(path, data))
    found = repo.entries(commit, [n.target for n in named if n.target is not None])
    entries = []
    for name in named:
        hit = found.get(name.target) if name.target is not None else None
        if hit is None:
            raise _unresolved(name, text, commit)
        entries.append(hit)
    return entries


def _kustomization(repo: GitRepo, commit: str, folder: str) -> tuple[str, str]:
    names = [posixpath.join(folder, name) for name in KUSTOMIZATION_FILES]
    found = repo.entries(commit, names)
    for name in names:
        entry = found.get(name)
        if entry is not None and entry.kind == "blob":
            return name, repo.read_blob(entry.object_id).decode("utf-8", errors="replace")
    raise RenderFailed(
        f"{folder or '.'} holds no kustomization.yaml at commit {commit[:12]}",
        hint="a kustomize source, and every folder its resources name, needs a kustomization file",
    )


def _kustomization_data(path: str, text: str) -> dict[str, Any]:
    try:
        documents = list(yamltext.load_documents(text))
    except yamltext.YamlError as exc:
        raise RenderFailed(f"invalid YAML: {exc.message}", location=SourceLocation(path, exc.line)) from exc
    data = documents[0].data if documents else None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RenderFailed("a kustomization must be a mapping", location=SourceLocation(path, 1))
    return data


@dataclass(frozen=True)
class _Named:
    """An entry of a kustomization's list field that names a path (or a remote base)."""

    kustomization: str
    field: str
    index: int
    entry: str
    target: str | None  # the path in the repository; None when the entry leaves it

    def location(self, text: str) -> SourceLocation:
        # Looked up only for an error: line_of parses the whole file again.
        return SourceLocation(self.kustomization, yamltext.line_of(text, 0, [self.field, self.index]) or 1)


def _named_entries(path: str, data: Mapping[str, Any]) -> Iterator[_Named]:
    folder = posixpath.dirname(path)
    for field in KUSTOMIZE_REFERENCE_FIELDS:
        values = data.get(field) or []
        if not isinstance(values, list):
            raise RenderFailed(f"{field} must be a list", location=SourceLocation(path, 1))
        for index, entry in enumerate(values):
            if not isinstance(entry, str) or (field in KUSTOMIZE_INLINE_FIELDS and "\n" in entry):
                continue  # an inline plugin configuration, not a path
            joined = posixpath.normpath(posixpath.join(folder, entry.strip()))
            inside = not (joined == ".." or joined.startswith(("../", "/")))
            target = ("" if joined == "." else joined) if inside else None
            yield _Named(path, field, index, entry, target)


def _unresolved(name: _Named, text: str, commit: str) -> Exception:
    where = name.location(text)
    if _looks_remote(name.entry):
        return SourceRefused(
            f"{name.entry!r} is a remote base: gitops-push fetches nothing while rendering",
            location=where,
            hint="vendor the base into this repository (for example with `git subtree`) and name its folder",
        )
    if name.target is None:
        return SourceRefused(f"{name.entry!r} points outside the repository", location=where)
    return RenderFailed(f"{name.entry!r} ({name.target}) is not in commit {commit[:12]}", location=where)


def _looks_remote(entry: str) -> bool:
    return "://" in entry or "?ref=" in entry or entry.startswith(REMOTE_PREFIXES)


# --- kustomize -------------------------------------------------------------------------------------

WRAPPER = "gitops-push-wrapper"  # a folder beside the exported tree, so its path can never clash


def _render_kustomize(source: KustomizeSource, tool: Tool, work: Path) -> _Output:
    """Build through a wrapper kustomization that only adds origin annotations to the source's output.

    Wrapping leaves the source's own files untouched, and an overlay of one folder builds the same
    objects (hash suffixes included) as the folder itself.
    """
    wrapper = work / WRAPPER
    wrapper.mkdir()
    target = posixpath.join("..", "repo", source.path) if source.path else "../repo"
    (wrapper / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n- {json.dumps(target)}\nbuildMetadata: [originAnnotations]\n",
        encoding="utf-8",
    )
    output = _run(tool, [str(wrapper)], work, source)
    files = _SourceFiles(work / "repo", source.path)
    objects = tuple(RenderedObject(body, files.origin(body)) for _, body in _documents(output, tool, source))
    return _Output(objects, (), files.read())


class _SourceFiles:
    """The exported source files, each parsed once, to find the document an object came from."""

    def __init__(self, tree: Path, folder: str) -> None:
        self.tree = tree
        self.kustomization = next(
            (p for p in (posixpath.join(folder, n) for n in KUSTOMIZATION_FILES) if (tree / p).is_file()),
            posixpath.join(folder, KUSTOMIZATION_FILES[0]),
        )
        self._texts: dict[str, str | None] = {}
        self._documents: dict[str, list[yamltext.Head]] = {}

    def origin(self, body: dict[str, Any]) -> SourceLocation:
        """Read and remove the origin annotation; the document's line where its file shows which one."""
        metadata = body.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        raw = annotations.pop(ORIGIN_ANNOTATION, None)
        if not annotations and "annotations" in metadata:
            del metadata["annotations"]
        origin = _origin_annotation(raw)
        if isinstance(origin, dict) and isinstance(origin.get("path"), str):
            return self._document(_from_wrapper(origin["path"]), body)
        if isinstance(origin, dict) and isinstance(origin.get("configuredIn"), str):
            kind = (origin.get("configuredBy") or {}).get("kind", "")
            return self._generator(_from_wrapper(origin["configuredIn"]), GENERATOR_FIELDS.get(kind))
        return SourceLocation(self.kustomization, 1, 0, LineBasis.BUILT)

    def read(self) -> dict[str, str]:
        """The text of every file an origin named (exported from Git at the commit), by path."""
        return {path: text for path, text in self._texts.items() if text is not None}

    def _text(self, path: str) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = (self.tree / path).read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[path] = None
        return self._texts[path]

    def _parsed(self, path: str) -> list[yamltext.Head]:
        """The file's documents' heads: their number, line, kind and name (not the whole documents)."""
        if path not in self._documents:
            text = self._text(path)
            try:
                self._documents[path] = yamltext.document_heads(text) if text is not None else []
            except yamltext.YamlError:
                self._documents[path] = []
        return self._documents[path]

    def _document(self, path: str, body: Mapping[str, Any]) -> SourceLocation:
        """The only document of `path`, or the one of the object's kind whose name its name holds."""
        documents = self._parsed(path)
        if len(documents) == 1:
            return SourceLocation(path, documents[0].line, documents[0].index, LineBasis.BUILT)
        kind, name = body.get("kind"), _name_of(body)
        # namePrefix and nameSuffix change the name; the original is still inside the rendered one.
        matches = [d for d in documents if d.kind == kind and isinstance(d.name, str) and d.name in name]
        if not matches:
            return SourceLocation(path, 1, 0, LineBasis.BUILT)
        best = max(matches, key=lambda d: len(str(d.name)))
        return SourceLocation(path, best.line, best.index, LineBasis.BUILT)

    def _generator(self, path: str, field: str | None) -> SourceLocation:
        text = self._text(path)
        line = yamltext.line_of(text, 0, [field]) if text is not None and field else None
        return SourceLocation(path, line or 1, 0, LineBasis.BUILT)


def _origin_annotation(raw: Any) -> Any:
    """The annotation's YAML (`path: ../repo/base/app.yaml`, or `configuredIn:` and `configuredBy:`),
    read by libyaml's C loader: the pure-Python one cost more per object than the rest of its origin."""
    if not isinstance(raw, str):
        return None
    import yaml  # here: plain manifests never need PyYAML (see yamltext)

    try:
        return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return None


def _name_of(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("name", ""))


def _from_wrapper(path: str) -> str:
    """An origin path is relative to the wrapper folder; make it relative to the repository root."""
    return posixpath.normpath(posixpath.join(WRAPPER, path)).removeprefix("repo/")


# --- helm ------------------------------------------------------------------------------------------


def _render_helm(source: HelmSource, tool: Tool, work: Path) -> _Output:
    tree = work / "repo"
    _check_dependencies(tree, source)
    args = [source.release, str(tree / source.chart)]
    args += ["--namespace", source.namespace, "--include-crds"]
    for values in source.values:
        args += ["--values", str(tree / values)]
    for setting in source.set_values:
        args += ["--set", setting]
    output = _run(tool, args, work, source)
    templates = _TemplateTexts(output.splitlines(), source.chart)
    objects: list[RenderedObject] = []
    dropped: list[Skipped] = []
    for line, body in _documents(output, tool, source):
        origin = templates.origin(line)
        hook, reason = _classify(body)
        if reason is not None:
            dropped.append(Skipped(origin, reason))
        else:
            objects.append(RenderedObject(body, origin, hook))
    return _Output(tuple(objects), tuple(dropped), templates.read())


def _check_dependencies(tree: Path, source: HelmSource) -> None:
    """Refuse the dependencies that `helm dependency build` would have to fetch."""
    chart_file, dependencies = _dependencies(tree, source.chart)
    for index, dependency in enumerate(dependencies):
        name = str(dependency.get("name", "")) if isinstance(dependency, dict) else ""
        if name and not _vendored(tree / source.chart / "charts", name):
            line = yamltext.line_of((tree / chart_file).read_text("utf-8"), 0, ["dependencies", index])
            raise SourceRefused(
                f"chart dependency {name!r} ({dependency.get('repository') or 'no repository'}) is not "
                f"vendored in {posixpath.join(source.chart, 'charts')}/: gitops-push fetches nothing while rendering",
                location=SourceLocation(chart_file, line or 1),
                hint="run `helm dependency build` and commit the charts/ folder it fills",
            )


def _dependencies(tree: Path, chart: str) -> tuple[str, list[Any]]:
    """The file that lists the chart's dependencies (Chart.yaml; requirements.yaml for apiVersion v1), and the list."""
    chart_file = posixpath.join(chart, "Chart.yaml")
    data = _yaml_mapping(tree, chart_file)
    requirements = posixpath.join(chart, "requirements.yaml")
    if data.get("apiVersion") == "v1" and (tree / requirements).is_file():
        chart_file, data = requirements, _yaml_mapping(tree, requirements)
    dependencies = data.get("dependencies") or []
    return chart_file, dependencies if isinstance(dependencies, list) else []


def _yaml_mapping(tree: Path, path: str) -> dict[str, Any]:
    import yaml  # here: plain manifests never need PyYAML (see yamltext)

    try:
        data = yaml.safe_load((tree / path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RenderFailed(f"cannot read {path}: {exc}", location=SourceLocation(path, 1)) from exc
    if data is not None and not isinstance(data, dict):
        raise RenderFailed(f"{path} must hold a mapping", location=SourceLocation(path, 1))
    return data or {}


def _vendored(charts: Path, name: str) -> bool:
    return (charts / name / "Chart.yaml").is_file() or any(charts.glob(f"{name}-*.tgz"))


class _TemplateTexts:
    """Helm's output cut into each template's rendered text, to give a document its origin there.

    Helm prints every document as `---`, `# Source: CHART/templates/x.yaml`, then the document, and
    `helm template --show-only templates/x.yaml` prints exactly x's chunks, in the same order: the
    text kept for a template is that, so a line of it is one a reader can find again.
    """

    def __init__(self, lines: Sequence[str], chart: str) -> None:
        self._lines = lines
        self._chart = chart
        self._separators = [number for number, text in enumerate(lines) if text.startswith("---")]
        self._texts: dict[str, list[str]] = {}
        self._placed: dict[int, tuple[str, int]] = {}  # chunk start -> (template, its first line there)
        self._documents: dict[str, int] = {}  # documents seen per template

    def origin(self, line: int) -> SourceLocation:
        """The template of the document at 1-based output `line`, and the document's line in its text."""
        source = _source_comment(self._lines, line)
        if source is None:
            return SourceLocation(posixpath.join(self._chart, "Chart.yaml"), 1)
        # Helm names templates after the chart's name (a subchart's after its parent's, then
        # charts/NAME/), not after its folder: swap the first part for the chart's folder.
        _, _, inside = source.partition("/")
        path = posixpath.join(self._chart, inside) if inside else source
        start = self._chunk_start(line)
        if start not in self._placed:
            held = self._texts.setdefault(path, [])
            self._placed[start] = (path, len(held))
            held += self._lines[start : self._chunk_end(start)]
        _, first = self._placed[start]
        index = self._documents.get(path, 0)  # the document's number among those of the same template
        self._documents[path] = index + 1
        return SourceLocation(path, first + line - start, index, LineBasis.RENDERED)

    def read(self) -> dict[str, str]:
        return {path: "\n".join(lines) + "\n" for path, lines in self._texts.items()}

    def _chunk_start(self, line: int) -> int:
        """The 0-based line of the separator above 1-based `line` (0 when the output has none above)."""
        above = bisect.bisect_left(self._separators, line - 1)
        return self._separators[above - 1] if above else 0

    def _chunk_end(self, start: int) -> int:
        after = bisect.bisect_right(self._separators, start)
        return self._separators[after] if after < len(self._separators) else len(self._lines)


def _source_comment(lines: Sequence[str], line: int) -> str | None:
    """The last `# Source:` line above 1-based `line`, up to the document separator before it."""
    for number in range(min(line, len(lines)) - 1, -1, -1):
        text = lines[number]
        if text.startswith(SOURCE_COMMENT):
            return text[len(SOURCE_COMMENT) :].strip()
        if text.startswith("---") and number < line - 1:
            return None
    return None


def _classify(body: Mapping[str, Any]) -> tuple[Hook | None, str | None]:
    """(hook, None) for a plain object (hook None) or a hook; (None, reason) for one never deployed."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(HOOK_ANNOTATION)
    if raw is None:
        return None, None
    names = {part.strip() for part in str(raw).split(",") if part.strip()}
    if names & TEST_HOOKS:
        return None, "a helm test hook: `helm test` runs it, a deploy does not"
    phases = frozenset(p for p in HookPhase if p.value in names)
    if not phases:
        return None, f"a helm {', '.join(sorted(names))} hook: a deploy runs only install and upgrade hooks"
    policies = {part.strip() for part in str(annotations.get(HOOK_DELETE_ANNOTATION, "")).split(",")}
    chosen = frozenset(p for p in DeletePolicy if p.value in policies)
    return Hook(
        phases, _hook_weight(annotations), chosen or frozenset({DeletePolicy.BEFORE_HOOK_CREATION})
    ), None


def _hook_weight(annotations: Mapping[str, Any]) -> int:
    try:
        return int(str(annotations.get(HOOK_WEIGHT_ANNOTATION, "0")).strip())
    except ValueError:
        return 0  # as Helm does: a weight that is no integer counts as 0


# --- running and parsing ---------------------------------------------------------------------------


def _run(tool: Tool, args: list[str], work: Path, source: Source) -> str:
    home = work / "home"
    home.mkdir()
    argv = [*tool.command, *args]
    try:
        result = subprocess.run(
            argv,
            cwd=work,
            env=_tool_env(home),
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderFailed(
            f"{tool.name} did not finish rendering in {RENDER_TIMEOUT:.0f} s",
            location=_source_location(source),
        ) from exc
    except OSError as exc:
        raise RendererMissing(f"{tool.name} could not run: {exc}") from exc
    if result.returncode != 0:
        message = _tail(result.stderr).replace(str(work / "repo") + "/", "").replace(str(work) + "/", "")
        raise RenderFailed(f"{tool.name} failed: {message}", location=_source_location(source))
    return result.stdout


def _source_location(source: Source) -> SourceLocation:
    if isinstance(source, HelmSource):
        return SourceLocation(posixpath.join(source.chart, "Chart.yaml"), 1)
    return SourceLocation(posixpath.join(source.path, KUSTOMIZATION_FILES[0]), 1)


def _documents(output: str, tool: Tool, source: Source) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line in the output, object) for each non-empty document the tool printed."""
    try:
        documents = list(yamltext.load_documents(output))
    except yamltext.YamlError as exc:
        raise RenderFailed(
            f"{tool.name} printed invalid YAML (output line {exc.line}): {exc.message}",
            location=_source_location(source),
        ) from exc
    for document in documents:
        if document.data is None:
            continue
        if not isinstance(document.data, dict):
            raise RenderFailed(
                f"{tool.name} printed a document that is not a mapping (output line {document.line})",
                location=_source_location(source),
            )
        yield document.line, document.data


# --- cache -----------------------------------------------------------------------------------------


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / "renderings" / f"{key}.json"


def _read_cache(cache_dir: Path, key: str) -> _Output | None:
    try:
        stored = json.loads(_cache_file(cache_dir, key).read_text("utf-8"))
        objects = tuple(_object_from_json(item) for item in stored["objects"])
        dropped = tuple(Skipped(_location_from_json(d["origin"]), d["reason"]) for d in stored["dropped"])
        texts = {str(path): str(text) for path, text in stored["texts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent or unreadable (a half-written file from a killed run): render again
    return _Output(objects, dropped, texts)


def _write_cache(cache_dir: Path, key: str, output: _Output) -> None:
    stored = {
        "objects": [_object_to_json(o) for o in output.objects],
        "dropped": [{"origin": _location_to_json(d.source), "reason": d.reason} for d in output.dropped],
        "texts": output.texts,
    }
    try:
        text = json.dumps(stored)
    except (TypeError, ValueError):
        return  # a YAML timestamp or the like: JSON cannot hold it, so this rendering is not cached
    if json.loads(text) != stored:
        return  # a non-string key would come back as a string: a cached copy would differ
    target = _cache_file(cache_dir, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a reader sees the whole file or none.
    with tempfile.NamedTemporaryFile(
        "w", dir=target.parent, suffix=".tmp", delete=False, encoding="utf-8"
    ) as file:
        file.write(text)
    Path(file.name).replace(target)


def _location_to_json(location: SourceLocation) -> list[Any]:
    return [location.path, location.line, location.document, location.basis.value]


def _location_from_json(data: list[Any]) -> SourceLocation:
    return SourceLocation(str(data[0]), int(data[1]), int(data[2]), LineBasis(data[3]))


def _object_to_json(rendered: RenderedObject) -> dict[str, Any]:
    hook = rendered.hook
    return {
        "body": rendered.body,
        "origin": _location_to_json(rendered.origin),
        "hook": None
        if hook is None
        else {
            "phases": sorted(p.value for p in hook.phases),
            "weight": hook.weight,
            "delete": sorted(p.value for p in hook.delete_policies),
        },
    }


def _object_from_json(data: dict[str, Any]) -> RenderedObject:
    hook = data["hook"]
    return RenderedObject(
        body=data["body"],
        origin=_location_from_json(data["origin"]),
        hook=None
        if hook is None
        else Hook(
            frozenset(HookPhase(p) for p in hook["phases"]),
            int(hook["weight"]),
            frozenset(DeletePolicy(p) for p in hook["delete"]),
        ),
    )
