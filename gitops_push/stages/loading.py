"""Files from Git to Manifests, object by object, for both sides of a commit range.

From the changed files of a commit range: a `ChangeSet` (old and new
objects keyed by ObjectRef, the namespace already defaulted), the files it skipped with a note, and
structural findings (unparsable YAML, missing apiVersion/kind/name, bad names, a namespace on a
cluster-scoped kind, the same object twice). Only the blobs of changed files are read.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import pickle
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_push import crds, forking, kinds, yamltext
from gitops_push.gitrepo import GitFile, GitRepo, open_repo
from gitops_push.model import (
    ChangeSet,
    Finding,
    LineBasis,
    Manifest,
    ObjectRef,
    Range,
    Skipped,
    SourceLocation,
)

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 100  # real manifests nest about 20 deep; deeper input would only strain later stages
ScopeOf = Callable[[str, str], bool | None]  # (apiVersion, kind) -> namespaced? None: unknown

# Files and API groups that are YAML but not objects to apply.
NOT_MANIFEST_FILES = {"kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml", "Chart.yml"}
NOT_MANIFEST_GROUPS = {"kustomize.config.k8s.io", "config.kubernetes.io", "kpt.dev"}

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_KINDS = {("", "Namespace"), ("", "Service")}
PATH_SEGMENT_GROUPS = {"rbac.authorization.k8s.io"}


@dataclass(frozen=True)
class Document:
    """One object as a file holds it, before its namespace is defaulted."""

    api_version: str
    group: str  # of the apiVersion: asked for several times per document while keying and scoping
    kind: str
    name: str
    namespace: str | None
    body: Mapping[str, Any]
    source: SourceLocation
    default_namespace: str | None = None  # a Helm release's namespace; None: the environment's


@dataclass
class Side:
    """What one revision's files hold: objects, notes and findings."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    passed: set[int] = field(default_factory=set)  # documents (by index) that passed `CheckAhead`


def _plain_side(side: Side) -> tuple[Any, ...]:
    """`side` as plain data for `forking.Wire`: a tuple per document (notes and findings, few and
    of many classes, are pickled within)."""
    documents = [
        (
            d.api_version,
            d.group,
            d.kind,
            d.name,
            d.namespace,
            d.body,
            d.source.path,
            d.source.line,
            d.source.document,
            d.source.basis.value,
            d.default_namespace,
        )
        for d in side.documents
    ]
    rare = pickle.dumps((side.skipped, side.findings)) if side.skipped or side.findings else b""
    return documents, side.texts, side.passed, rare


_LINE_BASES = {basis.value: basis for basis in LineBasis}  # (a dict: calling the enum costs 0.5 µs)


def _side_from_plain(plain: tuple[Any, ...]) -> Side:
    documents, texts, passed, rare = plain
    skipped, findings = pickle.loads(rare) if rare else ([], [])  # noqa: S301 - from our own child
    return Side(
        documents=[
            Document(
                api,
                group,
                kind,
                name,
                namespace,
                body,
                SourceLocation(path, line, index, _LINE_BASES[basis]),
                default,
            )
            for api, group, kind, name, namespace, body, path, line, index, basis, default in documents
        ],
        skipped=skipped,
        findings=findings,
        texts=texts,
        passed=passed,
    )


SIDE_WIRE = forking.Wire(_plain_side, _side_from_plain)
SIDES_WIRE = forking.Wire(
    lambda sides: tuple(_plain_side(side) for side in sides),
    lambda plain: (_side_from_plain(plain[0]), _side_from_plain(plain[1])),
)


# A check of a document's (apiVersion, kind, body) run where it was parsed, often in a forked child
# while its objects are still its own: validating's fast check, when the pipeline knows the schemas
# before reading (offline). True means the body passed it; anything else is checked later as usual.
CheckAhead = Callable[[str, str, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Rendered:
    """One object a renderer produced: its body, the source file it came from, and the namespace it
    takes when it names none (a Helm release's; None: the environment's, as for a plain file)."""

    body: Mapping[str, Any]
    source: SourceLocation
    default_namespace: str | None = None


@dataclass(frozen=True)
class RenderedSides:
    """The rendered objects at the base (old) and at head (new) of a range, and the texts that head's
    origins count their lines in (a kustomize source file at head, a Helm template's rendered text)."""

    old: Sequence[Rendered] = ()
    new: Sequence[Rendered] = ()
    texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Loaded:
    change_set: ChangeSet
    findings: tuple[Finding, ...]
    texts: Mapping[str, str]  # file text by path (new side), for the lines of later findings


def load(
    repo: GitRepo,
    span: Range,
    paths: Sequence[str],
    *,
    default_namespace: str | None,
    scope_of: ScopeOf,
    full: bool = False,
    rendered: RenderedSides = RenderedSides(),
    sides: tuple[Side, Side] | None = None,
    check_ahead: CheckAhead | None = None,
) -> Loaded:
    """Both sides of the range. `full` (or no base): the whole tree at head, nothing on the old side.

    `rendered` objects join their side as if a file held them; no `paths` means no plain files
    (an environment of rendered sources only), never the whole repository. `sides`: the files of
    the range as `read_range` read them already (in a `ReadAhead`); they are not read again.
    `check_ahead` runs on each new object as it is parsed; a manifest whose body passed it is
    marked `checked_ahead`.
    """
    old, new = (
        sides if sides is not None else read_range(repo, span, paths, full=full, check_ahead=check_ahead)
    )
    for rendered_object in rendered.old:
        add_object(rendered_object, old)
    for rendered_object in rendered.new:
        add_object(rendered_object, new)
    # A plain file's own text wins: a path read as a plain manifest is that file's lines.
    new.texts = {**rendered.texts, **new.texts}
    scopes = Scopes(scope_of, [*old.documents, *new.documents])
    old_objects, _ = key_documents(old.documents, scopes, default_namespace)
    new_objects, duplicates = key_documents(new.documents, scopes, default_namespace, passed=new.passed)
    findings = [*new.findings, *duplicates, *scope_findings(new.documents, scopes)]
    change_set = ChangeSet(
        range=span,
        old=old_objects,
        new=new_objects,
        skipped=tuple(new.skipped),
        full=full or span.base is None,
    )
    return Loaded(change_set=change_set, findings=tuple(findings), texts=new.texts)


def read_range(
    repo: GitRepo, span: Range, paths: Sequence[str], *, full: bool, check_ahead: CheckAhead | None = None
) -> tuple[Side, Side]:
    """The plain files of both sides of the range, parsed: (old, new), as `load` takes them; the new
    side's objects through `check_ahead` too."""
    if not paths:
        return Side(), Side()
    if full or span.base is None:
        return Side(), read_side(repo, repo.tree_files(span.head, paths), check_ahead)
    diffs = repo.changed_files(span.base, span.head, paths)
    old = read_side(repo, [d.old for d in diffs if d.old is not None])
    new = read_side(repo, [d.new for d in diffs if d.new is not None], check_ahead)
    return old, new


@dataclass(frozen=True)
class ReadAhead:
    """`read_range` of `span` (whole at head if `full`), begun in a forked child before the run needed
    it: the child reads Git and parses while the run connects to the cluster and takes its lock."""

    span: Range
    paths: tuple[str, ...]
    full: bool
    sides: forking.Ahead[tuple[Side, Side]]

    @classmethod
    def start(cls, repo: GitRepo, span: Range, paths: Sequence[str], *, full: bool) -> ReadAhead:
        root = repo.root

        def in_child() -> tuple[Side, Side]:
            with open_repo(
                root
            ) as own:  # its own: what the parent's opened (GitPython's pipes) stays its own
                return read_range(own, span, paths, full=full)

        return cls(
            span,
            tuple(paths),
            full,
            forking.ahead(in_child, lambda: read_range(repo, span, paths, full=full), SIDES_WIRE),
        )

    def take(self, span: Range, paths: Sequence[str], *, full: bool) -> tuple[Side, Side] | None:
        """The sides read ahead if they are the ones asked for, else None (the caller reads them)."""
        if (span, tuple(paths), full) != (self.span, self.paths, self.full):
            return None
        with _collector_paused():  # unpickling builds as many objects as parsing did (see there)
            return self.sides.result()

    def close(self) -> None:
        self.sides.close()


def read_side(repo: GitRepo, files: Iterable[GitFile], check_ahead: CheckAhead | None = None) -> Side:
    listed = list(files)
    # A submodule's entry names a commit of another repository: there is no blob to read.
    contents = iter(repo.read_blobs([file.blob for file in listed if not file.gitlink]))
    blobs = [(file, b"" if file.gitlink else next(contents)) for file in listed]
    total = sum(len(data) for _, data in blobs)
    # A large set in many small shares, so that processes on cores of unequal speed finish together
    # (`forking` decides how many processes take them).
    count = min(-(-total // SHARE_BYTES), forking.MAX_SHARES) if total >= PARALLEL_MIN_BYTES else 1
    shares = split_by_size(blobs, count)
    with _collector_paused(keep=total >= PARALLEL_MIN_BYTES):
        return _joined(forking.map_shares(lambda share: parse_files(share, check_ahead), shares, SIDE_WIRE))


# Below this much YAML (about 3,000 objects, a second of parsing) a second process is not worth it.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
SHARE_BYTES = 128 * 1024


def split_by_size(
    blobs: Sequence[tuple[GitFile, bytes]], count: int
) -> list[Sequence[tuple[GitFile, bytes]]]:
    """At most `count` contiguous shares of about equal size, in order."""
    total = sum(len(data) for _, data in blobs)
    shares: list[Sequence[tuple[GitFile, bytes]]] = []
    start, size = 0, 0
    for index, (_, data) in enumerate(blobs):
        size += len(data)
        if len(shares) < count - 1 and size * count >= total * (len(shares) + 1):
            shares.append(blobs[start : index + 1])
            start = index + 1
    shares.append(blobs[start:])
    return [share for share in shares if share]


def parse_files(blobs: Sequence[tuple[GitFile, bytes]], check_ahead: CheckAhead | None = None) -> Side:
    side = Side()
    for file, data in blobs:
        if _CONTROL.search(file.path):
            named = _escaped(file.path)
            side.findings.append(
                Finding(
                    SourceLocation(named, 1),
                    f"the file name {named} holds control characters: rename the file "
                    "(they would garble logs, annotations and reports)",
                )
            )
        elif file.gitlink:
            side.skipped.append(
                Skipped(
                    SourceLocation(file.path, 1),
                    "a Git submodule: its files are not read (copy its manifests into this repository)",
                )
            )
        elif file.symlink:
            note_symlink(file, data, side)
        else:
            parse_file(file.path, data, side)
    if check_ahead is not None:
        side.passed = {
            index
            for index, document in enumerate(side.documents)
            if check_ahead(document.api_version, document.kind, document.body)
        }
    return side


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escaped(path: str) -> str:
    """The path with each control character written as an escape (\\n, \\x1b)."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], path)


def _joined(sides: Sequence[Side]) -> Side:
    if len(sides) == 1:
        return sides[0]
    joined = Side()
    for side in sides:
        joined.passed.update(len(joined.documents) + index for index in side.passed)
        joined.documents += side.documents
        joined.skipped += side.skipped
        joined.findings += side.findings
        joined.texts.update(side.texts)
    return joined


@contextlib.contextmanager
def _collector_paused(*, keep: bool = False) -> Iterator[None]:
    """Python's cycle collector off while manifests are built (and, in forked children, sent back).

    Loading allocates hundreds of thousands of dicts and lists, which trigger collection after
    collection, each walking everything loaded so far: that was half the time of loading 10,000
    objects. Manifests hold no reference cycles, so there is nothing for the collector to find.

    `keep` (a large set): what was loaded is then moved out of the collector's sight for good
    (gc.freeze), or the first full collection after loading walks it all once more (a sixth of a
    second for 10,000 objects, on the one process that plans). The collection of the young
    generations before loading makes sure that the run's own garbage is not frozen with it, to stay
    uncollected (a full collection found nothing more there, and took 20 ms); frozen objects that
    are no longer used are still freed, as reference counting frees them.
    """
    was_enabled = gc.isenabled()
    if keep and was_enabled:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if keep:
                gc.freeze()
            gc.enable()


def note_symlink(file: GitFile, data: bytes, side: Side) -> None:
    target = data.decode("utf-8", errors="replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(file.path), target))
    where = SourceLocation(file.path, 1)
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        side.findings.append(Finding(where, f"symlink to {target!r} points outside the repository"))
    else:
        side.skipped.append(
            Skipped(where, f"symlink to {target}: not followed; list the target's path instead")
        )


def parse_file(path: str, data: bytes, side: Side) -> None:
    """Append the file's objects, notes and findings to `side`."""
    where = SourceLocation(path, 1)
    if posixpath.basename(path) in NOT_MANIFEST_FILES:
        side.skipped.append(Skipped(where, "a kustomize or Helm file, not an object to apply"))
        return
    if len(data) > MAX_FILE_BYTES:
        side.findings.append(
            Finding(
                where,
                f"file is {len(data):,} bytes, over the limit of {MAX_FILE_BYTES:,} bytes for a manifest",
            )
        )
        return
    if b"\0" in data:
        side.findings.append(Finding(where, "binary file (it holds NUL bytes), not a YAML or JSON manifest"))
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        side.findings.append(Finding(SourceLocation(path, line), f"not UTF-8 text (byte {exc.start})"))
        return
    side.texts[path] = text
    try:
        documents = list(_documents(path, text))
    except yamltext.YamlError as exc:
        language = "JSON" if path.endswith(".json") else "YAML"
        side.findings.append(Finding(SourceLocation(path, exc.line), f"invalid {language}: {exc.message}"))
        return
    found = False
    for document in documents:
        found = _take_document(path, text, document, side) or found
    if not found and not any(s.source.path == path for s in side.skipped):
        # An empty manifest file is almost always a mistake (a bad merge, a truncated write): say so.
        side.findings.append(
            Finding(where, "no Kubernetes object in this file: it is empty or holds only `---`")
        )


def _documents(path: str, text: str) -> Iterator[yamltext.Document]:
    # As kubectl reads a file: by its content (a JSON stream when it starts with `{`), not its name.
    yield from yamltext.load_documents(text)


def _take_document(path: str, text: str, document: yamltext.Document, side: Side) -> bool:
    """Add one YAML document; True when it held an object (or a List of them)."""
    data = document.data
    source = SourceLocation(path, document.line, document.index)
    if data is None:
        return False  # an empty document, such as a trailing `---`
    if (document.depth is None or document.depth > MAX_DEPTH) and _deeper_than(data, MAX_DEPTH):
        side.findings.append(Finding(source, f"the document nests deeper than {MAX_DEPTH} levels"))
        return True
    if not isinstance(data, dict):
        side.findings.append(Finding(source, f"a manifest must be a mapping, not {_type_name(data)}"))
        return True
    if "apiVersion" not in data and "kind" not in data:
        side.skipped.append(Skipped(source, "no apiVersion or kind: not a Kubernetes object"))
        return False
    api_version = data.get("apiVersion")
    if isinstance(api_version, str) and kinds.split_api_version(api_version)[0] in NOT_MANIFEST_GROUPS:
        side.skipped.append(
            Skipped(source, f"{data.get('kind')} ({api_version}) is tool configuration, not an object")
        )
        return False
    if "items" in data:
        _take_list(path, text, document, data, side)
        return True
    _check_structure(data, source, side)
    return True


def _take_list(path: str, text: str, document: yamltext.Document, data: dict[str, Any], side: Side) -> None:
    """A document with `items`, which kubectl reads as a list of objects, as its builder does.

    `kind: List` and every `<Kind>List`: each item is an object with the line of its own text;
    an item without kind and apiVersion takes the list's apiVersion and its kind less `List`
    (a ConfigMapList's items are ConfigMaps). kubectl reads any other object with a top-level
    `items` the same way, dropping the object itself: that is refused, as kubectl refuses a List
    inside a List.
    """
    source = SourceLocation(path, document.line, document.index)
    kind, items = data.get("kind"), data["items"]
    if not isinstance(kind, str) or not kind.endswith("List"):
        message = (
            f"a {kind or 'document'} with a top-level `items` field: kubectl would read it as a list, "
            "apply the items and drop the object itself (rename the field, or make it a List)"
        )
        side.findings.append(Finding(source, message, field_path="items"))
        return
    if items is not None and not isinstance(items, list):
        side.findings.append(Finding(source, "the items of a List must be a list", field_path="items"))
        return
    item_kind, api_version = kind.removesuffix("List"), data.get("apiVersion")
    for index, item in enumerate(items or []):
        line = yamltext.line_of(text, document.index, ["items", index]) or document.line
        item_source = SourceLocation(path, line, document.index)
        prefix = f"items[{index}]"
        if not isinstance(item, dict):
            side.findings.append(Finding(item_source, "a List item must be a mapping", field_path=prefix))
        elif isinstance(item.get("items"), list):
            side.findings.append(
                Finding(
                    item_source, "a List inside a List: kubectl refuses it too", field_path=f"{prefix}.items"
                )
            )
        else:
            if not _text(item.get("kind")) and not _text(item.get("apiVersion")):
                item = {**item, "apiVersion": api_version, "kind": item_kind}
            _check_structure(item, item_source, side, prefix=f"{prefix}.")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def add_object(rendered: Rendered, side: Side) -> None:
    """A rendered object joins `side` as a plain document would: its structure checked the same way."""
    _check_structure(dict(rendered.body), rendered.source, side, default_namespace=rendered.default_namespace)


def _check_structure(
    data: dict[str, Any],
    source: SourceLocation,
    side: Side,
    prefix: str = "",
    *,
    default_namespace: str | None = None,
) -> None:
    problems = []
    api_version, kind = data.get("apiVersion"), data.get("kind")
    metadata = data.get("metadata")
    if not isinstance(api_version, str) or not api_version:
        problems.append(("apiVersion", "missing or not a string: every object needs an apiVersion"))
    if not isinstance(kind, str) or not kind:
        problems.append(("kind", "missing or not a string: every object needs a kind"))
    if not isinstance(metadata, dict):
        problems.append(("metadata", "missing or not a mapping: every object needs metadata.name"))
        metadata = {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if "metadata" not in [p for p, _ in problems] and (not isinstance(name, str) or not name):
        problems.append(("metadata.name", "missing or not a string: every object needs a name"))
    if namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not DNS_LABEL.match(namespace)
    ):
        problems.append(("metadata.namespace", f"invalid namespace {namespace!r}: {LABEL_RULE}"))
    group = kinds.split_api_version(api_version)[0] if isinstance(api_version, str) else ""
    if not problems and isinstance(kind, str) and isinstance(name, str):
        problem = name_problem(group, kind, name)
        if problem:
            problems.append(("metadata.name", problem))
    if not problems and api_version == "v1" and kind == "Secret":
        problems += _secret_data_problems(data)
    for field_path, message in problems:
        side.findings.append(Finding(source, message, field_path=prefix + field_path))
    if problems:
        return
    side.documents.append(
        Document(
            api_version=str(api_version),
            group=group,
            kind=str(kind),
            name=str(name),
            namespace=namespace,
            body=data,
            source=source,
            default_namespace=default_namespace,
        )
    )


def _secret_data_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Secret `data` values must be base64 (the API server answers a 500 otherwise). Values are never
    quoted: only the key is named."""
    values = data.get("data")
    if not isinstance(values, dict):
        return []
    problems = []
    for key, value in values.items():
        if value is None:
            continue
        try:
            base64.b64decode(str(value), validate=True)
        except (ValueError, binascii.Error):
            problems.append((f"data.{key}", "not valid base64 (use stringData for plain text)"))
    return problems


LABEL_RULE = (
    "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"
)


def name_problem(group: str, kind: str, name: str) -> str | None:
    """Why a name is invalid for this kind, or None."""
    if group in PATH_SEGMENT_GROUPS:
        if name in (".", "..") or "/" in name or "%" in name:
            return f"invalid name {name!r}: it may not be '.' or '..' or hold '/' or '%'"
        return None
    if (group, kind) in LABEL_KINDS:
        if len(name) > 63 or not DNS_LABEL.match(name):
            return f"invalid name {name!r}: {LABEL_RULE}"
        if kind == "Service" and not name[0].isalpha():
            return f"invalid name {name!r}: a Service name must start with a letter"
        return None
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        return (
            f"invalid name {name!r}: lowercase letters, digits, '-' and '.', starting and ending "
            "with a letter or digit, at most 253 characters"
        )
    return None


class Scopes:
    """Namespaced or not, per (group, kind): built-in table, then CRDs in the change, then the cluster."""

    def __init__(self, scope_of: ScopeOf, documents: Iterable[Document]) -> None:
        self._ask = scope_of
        self._known: dict[tuple[str, str], bool | None] = {}
        for document in documents:
            if not crds.is_crd(document.group, document.kind):
                continue
            definition = crds.crd_definition(document.body)
            if definition is not None:
                self._known[(definition.group, definition.kind)] = definition.namespaced

    def namespaced(self, document: Document) -> bool | None:
        key = (document.group, document.kind)
        if key not in self._known:
            builtin = kinds.builtin_scope(*key)
            self._known[key] = (
                builtin if builtin is not None else self._ask(document.api_version, document.kind)
            )
        return self._known[key]


def key_documents(
    documents: Iterable[Document],
    scopes: Scopes,
    default_namespace: str | None,
    *,
    passed: Collection[int] = (),
) -> tuple[dict[ObjectRef, Manifest], list[Finding]]:
    """Key each document by ObjectRef, defaulting the namespace; a second definition is a finding.

    A document whose index is in `passed` (it passed `CheckAhead`) makes a manifest marked
    `checked_ahead`, unless its body changed here (a namespace defaulted): that one is checked anew."""
    objects: dict[ObjectRef, Manifest] = {}
    findings = []
    for index, document in enumerate(documents):
        namespaced = scopes.namespaced(document)
        namespace = document.namespace
        body = document.body
        if namespaced and not namespace:
            namespace = document.default_namespace or default_namespace or "default"
            body = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        ref = ObjectRef(
            document.group, document.kind, namespace if namespaced is not False else None, document.name
        )
        if ref in objects:
            first = objects[ref].source
            findings.append(
                Finding(
                    document.source,
                    f"{ref} is defined twice: here and at {first}",
                    ref=ref,
                    field_path="metadata.name",
                )
            )
            continue
        objects[ref] = Manifest(
            ref=ref,
            api_version=document.api_version,
            body=body,
            source=document.source,
            checked_ahead=body is document.body and index in passed,
        )
    return objects, findings


def scope_findings(documents: Iterable[Document], scopes: Scopes) -> list[Finding]:
    return [
        Finding(
            d.source,
            f"{d.kind} is cluster-scoped and cannot have a namespace",
            field_path="metadata.namespace",
        )
        for d in documents
        if d.namespace and scopes.namespaced(d) is False
    ]


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether data nests deeper than `limit`, found without recursion (only containers are visited)."""
    if not isinstance(data, dict | list):
        return limit < 1
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
