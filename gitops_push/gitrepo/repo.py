"""GitRepo: revisions, deploy tags, tree differences, blobs, exported trees, tagging and pushing."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from gitops_push.errors import GitStateError, TagPushRefused, TagRace

if TYPE_CHECKING:
    import git

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_IDENTITY = ("gitops-push", "gitops-push@localhost")
SYMLINK_MODE = "120000"
EXECUTABLE_MODE = "100755"
GITLINK_MODE = "160000"  # a submodule: the entry names a commit of another repository, not a blob


@dataclass(frozen=True)
class DeployTag:
    name: str
    commit: str
    timestamp: int  # tagger date, seconds since the epoch


@dataclass(frozen=True)
class GitFile:
    """A manifest file in a commit: its path, its blob, and whether Git stores it as a symlink.

    A gitlink (a submodule) is listed too, so that it can be noted: its `blob` is a commit of the
    submodule's repository, which this repository cannot read."""

    path: str
    blob: str
    symlink: bool = False
    gitlink: bool = False


@dataclass(frozen=True)
class GitEntry:
    """What a path is in a commit: a "tree" (folder), a "blob" (file) or a "commit" (submodule)."""

    path: str
    kind: str
    object_id: str


@dataclass(frozen=True)
class FileDiff:
    """A manifest file that differs between two commits; a side is None where the file is absent."""

    path: str
    old: GitFile | None
    new: GitFile | None


def open_repo(directory: Path) -> GitRepo:
    """The repository whose work tree holds `directory` (it may be a folder inside)."""
    if not directory.is_dir():
        raise _not_a_repository(directory)
    try:
        top = _text(_run(directory, "rev-parse", "--show-toplevel"))
    except _Failed as exc:
        raise _open_failed(directory, exc) from exc
    return GitRepo(Path(top.removesuffix("\n")))


def _not_a_repository(directory: Path) -> GitStateError:
    return GitStateError(
        f"{directory} is not inside a Git repository", hint="run gitops-push from a clone of your manifests"
    )


def _open_failed(directory: Path, failed: _Failed) -> GitStateError:
    """Why `directory` holds no work tree: outside any repository, in a bare one, or what Git says (a
    repository another user owns, which Git refuses to read)."""
    if "not a git repository" in failed.stderr:
        return _not_a_repository(directory)
    with contextlib.suppress(_Failed):
        if _text(_run(directory, "rev-parse", "--is-bare-repository")).strip() == "true":
            return GitStateError(
                f"{directory} is a bare repository", hint="run gitops-push in a clone with a work tree"
            )
    return GitStateError(f"cannot read the Git repository at {directory}: {failed.last_line}")


class _Failed(Exception):
    """A git command that exited with a failure; `stderr` is what it said."""

    def __init__(self, command: Sequence[str], stderr: str) -> None:
        super().__init__(f"git {command[0]} failed: {stderr.strip()}")
        self.stderr = stderr

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else str(self)


_CHANGING_REFS = {"fetch", "tag", "push"}  # the commands this module runs that may change refs

# Git's messages in English, whatever the machine's language: some are matched (is_tag_race).
_C_LOCALE = {"LANGUAGE": "C", "LC_ALL": "C"}


def _run(directory: Path, *command: str, stdin: bytes = b"") -> bytes:
    """What `git COMMAND` prints, run in `directory`; _Failed if it fails.

    Commands are run here rather than through GitPython: importing GitPython takes about 55 ms, a
    tenth of a plan of 10,000 objects, and every command needs Git. GitPython serves `history`,
    whose commits it reads through one long-lived `git cat-file` (`GitRepo.objects`).
    """
    try:
        result = subprocess.run(
            [_git_executable(), *command],
            cwd=directory,
            input=stdin,
            capture_output=True,
            env={**os.environ, **_C_LOCALE},
            check=False,
        )
    except OSError as exc:
        raise _cannot_run(exc) from exc
    if result.returncode != 0:
        raise _Failed(command, result.stderr.decode("utf-8", errors="replace"))
    return result.stdout


# From this many blobs on, `read_blobs` runs one `git cat-file` per core: for 2,000 blobs (6 MB),
# 60 ms of Git's own work become about 30.
SIDE_BY_SIDE_BLOBS = 256


def _cores() -> int:
    return min(len(os.sched_getaffinity(0)), 4) if hasattr(os, "sched_getaffinity") else 1


def _split(items: Sequence[str], count: int) -> list[Sequence[str]]:
    """`items` in `count` contiguous parts of about equal length (fewer when there are few items)."""
    size = -(-len(items) // max(count, 1))
    return [items[start : start + size] for start in range(0, len(items), size)] or [items]


def _run_side_by_side(directory: Path, command: Sequence[str], inputs: Sequence[bytes]) -> list[bytes]:
    """What `git COMMAND` prints for each input, one process per input, all running at once.

    Each process reads its input from, and writes its output into, an anonymous file in memory
    (a memfd; blobs may hold Secrets, which never go to a disk): no pipe fills while this process
    waits for another, so they need no threads or polling here. Where there is no memfd, they run
    one after the other."""
    if not hasattr(os, "memfd_create"):
        return [_run(directory, *command, stdin=data) for data in inputs]
    with contextlib.ExitStack() as files:
        started: list[tuple[subprocess.Popen[bytes], BinaryIO, BinaryIO]] = []
        try:
            for data in inputs:
                given, output, errors = (_memory_file(files) for _ in range(3))
                given.write(data)
                given.seek(0)
                process = subprocess.Popen(
                    [_git_executable(), *command],
                    cwd=directory,
                    stdin=given,
                    stdout=output,
                    stderr=errors,
                    env={**os.environ, **_C_LOCALE},
                )
                started.append((process, output, errors))
        except OSError as exc:
            raise _cannot_run(exc) from exc
        finally:
            statuses = [process.wait() for process, _, _ in started]  # none is left running
        outputs = []
        for status, (_, output, errors) in zip(statuses, started, strict=True):
            if status != 0:
                errors.seek(0)
                raise _Failed(command, errors.read().decode("utf-8", errors="replace"))
            output.seek(0)
            outputs.append(output.read())
        return outputs


def _memory_file(files: contextlib.ExitStack) -> BinaryIO:
    return files.enter_context(os.fdopen(os.memfd_create("gitops-push-git"), "w+b"))


def _cannot_run(exc: OSError) -> GitStateError:
    return GitStateError(f"cannot run git: {exc.strerror or exc}", hint="install Git and put it on the PATH")


def _git_executable() -> str:
    # GitPython's setting, which the commands run here honour as GitPython's own do
    return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"


def _pathspecs(paths: Sequence[str]) -> list[str]:
    # literal: a folder named like a glob must not match other files
    return [f":(literal){p}" if p else "." for p in paths]


def _split_nul(stream: IO[bytes], chunk_size: int = 65536) -> Iterator[bytes]:
    """The NUL-terminated records of `stream`, read a chunk at a time."""
    pending = b""
    while chunk := stream.read(chunk_size):
        *records, pending = (pending + chunk).split(b"\0")
        yield from records
    if pending:
        yield pending


def _counts_as_file(entry: bytes) -> bool:
    """Whether an `ls-tree -z` entry is something tree_files lists: a manifest, or a submodule (which
    loading refuses by name, a clearer message than "no manifests")."""
    meta, _, path = entry.partition(b"\t")
    kind = meta.split(b" ")[1] if meta.count(b" ") == 2 else b""
    return kind == b"commit" or (kind == b"blob" and is_manifest_path(path.decode(errors="replace")))


def is_manifest_path(path: str) -> bool:
    return path.endswith(MANIFEST_SUFFIXES)


def _batch_contents(output: bytes, shas: Sequence[str]) -> list[bytes]:
    """The contents in `git cat-file --batch` output: "<sha> <type> <size>\\n<content>\\n" each."""
    contents, position = [], 0
    for sha in shas:
        end = output.index(b"\n", position)
        header = output[position:end].split()
        if len(header) != 3:
            raise GitStateError(
                f"blob {sha} is not in the repository ({bytes(output[position:end]).decode()})"
            )
        size = int(header[2])
        contents.append(output[end + 1 : end + 1 + size])
        position = end + 1 + size + 1
    return contents


class GitRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects: git.Repo | None = None
        # What a run asks more than once, kept until this object changes refs (fetching, tagging).
        self._resolved: dict[str, str] = {}
        self._shallow: bool | None = None

    @property
    def objects(self) -> git.Repo:
        """GitPython's view of the repository, opened (and GitPython imported) when first asked for."""
        if self._objects is None:
            import git  # only here: see _run (most runs never need it)

            self._objects = git.Repo(self.root)
        return self._objects

    def close(self) -> None:
        """End the long-lived `git cat-file` processes GitPython may have started."""
        if self._objects is not None:
            self._objects.close()

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _git(self, *command: str, stdin: bytes = b"") -> str:
        """What `git COMMAND` prints, as text, without its last line break (_Failed if it fails)."""
        if command[0] in _CHANGING_REFS:
            self._refs_changed()
        out = _text(_run(self.root, *command, stdin=stdin))
        return out[:-1] if out.endswith("\n") else out

    def _succeeds(self, *command: str) -> bool:
        try:
            _run(self.root, *command)
        except _Failed:
            return False
        return True

    def resolve(self, rev: str) -> str:
        if rev in self._resolved:
            return self._resolved[rev]
        try:
            commit = self._git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
        except _Failed as exc:
            raise GitStateError(
                f"cannot resolve {rev!r} to a commit",
                hint="give a branch, tag or commit that exists in this clone (shallow clones may lack it)",
            ) from exc
        self._resolved[rev] = commit
        return commit

    def _refs_changed(self) -> None:
        self._resolved.clear()
        self._shallow = None  # (a fetch that reaches the first commit makes a clone whole)

    def merge_bases(self, first: str, second: str) -> set[str]:
        """The best common ancestors of two commits (none for unrelated histories), in one call: a
        commit is an ancestor of the other exactly when it is their only one."""
        try:
            return set(self._git("merge-base", "--all", "--end-of-options", first, second).split())
        except _Failed:
            return set()  # (merge-base fails without a common ancestor, and for a commit it lacks)

    def has_commit(self, sha: str) -> bool:
        return self._succeeds("cat-file", "-e", f"{sha}^{{commit}}")

    def deploy_tags(self, prefix: str) -> list[DeployTag]:
        """Tags under `prefix/`, newest first by tag date (then by name, which holds the time too)."""
        # An annotated tag's commit is the `object` its tag object names: read in the same call, not
        # by peeling (%(*objectname) makes for-each-ref die when a tag's commit is missing) nor by a
        # `git cat-file` per tag (an environment gains a tag with every deploy: 1.5 to 3.5 ms each).
        out = self._git(
            "for-each-ref",
            "--sort=-refname",
            "--sort=-creatordate",
            "--format=%(refname:strip=2)%00%(objectname)%00%(objecttype)%00%(creatordate:unix)%00%(object)",
            f"refs/tags/{prefix}/",
        )
        tags = []
        for line in out.splitlines():
            name, target, kind, stamp, tagged = line.split("\0")
            commit = tagged if kind == "tag" else target
            tags.append(DeployTag(name=name, commit=commit, timestamp=int(stamp or 0)))
        return tags

    def tag_message(self, name: str) -> str:
        try:
            return self._git("for-each-ref", "--format=%(contents)", f"refs/tags/{name}")
        except _Failed:
            return ""

    def changed_files(self, base: str, head: str, paths: Sequence[str]) -> list[FileDiff]:
        """Manifest files that differ between two commits: one `git diff-tree`, no rename pairing."""
        out = self._git(
            "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", base, head, "--", *_pathspecs(paths)
        )
        fields = out.split("\0")
        diffs = []
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(":"):
                continue
            old_mode, new_mode, old_sha, new_sha, _ = meta[1:].split(" ")
            if not is_manifest_path(path) and GITLINK_MODE not in (old_mode, new_mode):
                continue
            diffs.append(
                FileDiff(path=path, old=_file(path, old_mode, old_sha), new=_file(path, new_mode, new_sha))
            )
        return diffs

    def tree_files(self, commit: str, paths: Sequence[str]) -> list[GitFile]:
        """Every manifest file under `paths` at `commit`."""
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *_pathspecs(paths))
        files = []
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            mode, kind, sha = meta.split(" ")
            if kind == "blob" and is_manifest_path(path):
                files.append(GitFile(path=path, blob=sha, symlink=mode == SYMLINK_MODE))
            elif kind == "commit":
                files.append(GitFile(path=path, blob=sha, gitlink=True))
        return files

    def has_manifest(self, commit: str, paths: Sequence[str]) -> bool:
        """Whether any manifest file lies under `paths` at `commit`. Stops reading Git's listing at the
        first one, so asking costs little in a large environment (tree_files would list all of it)."""
        command = [_git_executable(), "ls-tree", "-r", "-z", "--full-tree", commit, "--"]
        with subprocess.Popen(
            [*command, *_pathspecs(paths)],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        ) as listing:
            assert listing.stdout is not None
            found = any(_counts_as_file(entry) for entry in _split_nul(listing.stdout))
            if found:
                listing.kill()  # the rest of the listing is not needed
        return found

    def file_at(self, commit: str, path: str) -> bytes | None:
        """One file's content at `commit` (None: no such file), from Git objects, never the work tree.
        A symlink is refused rather than followed: what it points at could be anything, a token file
        among them, and the caller would print it in an error."""
        out = self._git("ls-tree", "-z", "--full-tree", commit, "--", path)
        entry = next((e for e in out.split("\0") if e), None)
        if entry is None:
            return None
        mode, kind, sha = entry.split("\t", 1)[0].split(" ")
        if mode == SYMLINK_MODE:
            raise GitStateError(
                f"{path} is a symbolic link at commit {commit[:12]}: it is not followed",
                hint=f"commit {path} itself, not a link to it",
            )
        if kind != "blob":
            raise GitStateError(f"{path} is not a file at commit {commit[:12]}")
        return self.read_blob(sha)

    def read_blob(self, sha: str) -> bytes:
        return self.read_blobs([sha])[0]

    def read_blobs(self, shas: Sequence[str]) -> list[bytes]:
        """The blobs' contents, in one `git cat-file --batch` (one request and answer per blob costs
        more); many blobs in one per core, side by side (Git inflating them is the cost)."""
        parts = _split(shas, _cores()) if len(shas) >= SIDE_BY_SIDE_BLOBS else [shas]
        requests = ["".join(f"{sha}\n" for sha in part).encode() for part in parts]
        try:
            if len(parts) == 1:
                outputs = [_run(self.root, "cat-file", "--batch", stdin=requests[0])]
            else:
                outputs = _run_side_by_side(self.root, ("cat-file", "--batch"), requests)
        except _Failed as exc:
            raise GitStateError(f"git cat-file failed: {exc.stderr.strip()}") from exc
        return [
            blob
            for part, output in zip(parts, outputs, strict=True)
            for blob in _batch_contents(output, part)
        ]

    def entries(self, commit: str, paths: Sequence[str]) -> dict[str, GitEntry]:
        """What each of `paths` is at `commit`, by path; a path the commit lacks is left out.

        Asked of one `git cat-file --batch-check` for all of them (`git ls-tree` would list a
        folder's contents instead of the folder when a path inside it is asked for too). "" names
        the root folder. Paths are as Git spells them: relative to the root, "/", no "." or ".."
        segments.
        """
        # the batch protocol is line based: Git has no path with a line break we could ask for
        asked = [path for path in dict.fromkeys(paths) if "\n" not in path]
        request = "".join(f"{commit}:{path}\n" for path in asked).encode()
        answers = _text(_run(self.root, "cat-file", "--batch-check", stdin=request)).splitlines()
        found: dict[str, GitEntry] = {}
        for path, answer in zip(asked, answers, strict=True):
            # "<id> <kind> <size>"; "<what was asked> missing" (or "ambiguous") when not in the commit
            if match := _OBJECT_HEADER.fullmatch(answer):
                found[path] = GitEntry(path=path, kind=match["kind"], object_id=match["id"])
        return found

    def tree_id(self, commit: str, path: str) -> str | None:
        """The object id of folder `path` at `commit` ("" is the root), or None where it is no folder."""
        entry = self.entries(commit, [path]).get(path)
        return entry.object_id if entry is not None and entry.kind == "tree" else None

    def export(self, commit: str, paths: Sequence[str], destination: Path) -> int:
        """Write the files under `paths` at `commit` into `destination`, from Git objects only.

        Each path may be a folder (written whole) or a file, and keeps its place relative to the
        repository root. Executable files stay executable; submodules are left out (their commits
        are not in this repository). A symlink is written only when it points inside `destination`
        at a relative path: an absolute or escaping one would let a rendering read the machine's
        files, so it is a GitStateError. Returns the number of files written.
        """
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *_pathspecs(paths))
        files = [f for f in _ls_tree_files(out) if f.kind == "blob"]
        contents = self.read_blobs([f.object_id for f in files]) if files else []
        for file, data in zip(files, contents, strict=True):
            _write_file(destination, file, data)
        return len(files)

    def dirty_paths(self, paths: Sequence[str]) -> list[str]:
        """Paths with uncommitted changes (`git status --porcelain -z`; a rename also names its origin)."""
        fields = self._git("status", "--porcelain", "-z", "--", *_pathspecs(paths)).split("\0")
        dirty, index = [], 0
        while index < len(fields):
            entry = fields[index]
            index += 1
            if len(entry) < 4:
                continue
            dirty.append(entry[3:])
            if entry[0] in "RC":
                index += 1  # the next field is the path the entry was renamed or copied from
        return dirty

    def is_shallow(self) -> bool:
        if self._shallow is None:
            self._shallow = self._git("rev-parse", "--is-shallow-repository").strip() == "true"
        return self._shallow

    def fetch_deploy_tags(self, remote: str, prefix: str) -> None:
        """Fetch the environment's deploy tags (and, in a shallow clone, just their commits).

        CI checkouts are often shallow and without tags; the last deploy tag and its commit's tree
        are all a deploy needs, since the change set is a difference of two trees.
        """
        spec = f"+refs/tags/{prefix}/*:refs/tags/{prefix}/*"
        args = ["--no-tags", "--quiet", remote, spec]
        if self.is_shallow():
            args.insert(0, "--depth=1")
        try:
            self._git("fetch", *args)
        except _Failed as exc:
            raise GitStateError(
                f"could not fetch the deploy tags from {remote}: {exc.last_line}",
                hint="give the pipeline read access to the remote's tags, or fetch them before running",
            ) from exc

    def fetch_branch(self, remote: str, branch: str, *, since: int) -> str:
        """Fetch `branch` into `refs/remotes/REMOTE/BRANCH` and return that ref.

        In a shallow clone, the history since `since` (seconds since the epoch) comes too: without
        it, no deploy tag's commit could be shown to be on the branch.
        """
        ref = f"refs/remotes/{remote}/{branch}"
        args = ["--no-tags", "--quiet", remote, f"+refs/heads/{branch}:{ref}"]
        if self.is_shallow():
            moment = datetime.datetime.fromtimestamp(since, datetime.UTC)
            args.insert(0, f"--shallow-since={moment:%Y-%m-%d %H:%M:%S} +0000")
        try:
            self._git("fetch", *args)
        except _Failed as exc:
            raise GitStateError(f"could not fetch branch {branch} from {remote}: {exc.last_line}") from exc
        return ref

    def default_branch(self, remote: str) -> str | None:
        """The remote's default branch: its `HEAD` as this clone knows it, else as the remote says."""
        try:
            return self._git("symbolic-ref", "--short", f"refs/remotes/{remote}/HEAD").removeprefix(
                f"{remote}/"
            )
        except _Failed:
            pass  # CI checkouts often lack refs/remotes/REMOTE/HEAD: ask the remote
        try:
            out = self._git("ls-remote", "--symref", remote, "HEAD")
        except _Failed:
            return None
        for line in out.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line.removeprefix("ref: refs/heads/").removesuffix("\tHEAD")
        return None

    def current_branch(self) -> str | None:
        """The checked-out branch; None on a detached HEAD."""
        try:
            return self._git("symbolic-ref", "--short", "-q", "HEAD") or None
        except _Failed:
            return None

    def has_ref(self, ref: str) -> bool:
        return self._succeeds("rev-parse", "--verify", "-q", f"{ref}^{{commit}}")

    def tags_merged(self, prefix: str, ref: str) -> set[str]:
        """The names of the tags under `prefix/` whose commit is reachable from `ref`, in one call."""
        out = self._git(
            "for-each-ref", f"--merged={ref}", "--format=%(refname:strip=2)", f"refs/tags/{prefix}/"
        )
        return set(out.splitlines())

    def present(self, shas: Sequence[str]) -> set[str]:
        """Those of `shas` whose commit this clone has, in one `git cat-file --batch-check`."""
        request = "".join(f"{sha}^{{commit}}\n" for sha in shas).encode()
        answers = _text(_run(self.root, "cat-file", "--batch-check", stdin=request)).splitlines()
        # "<sha> commit <size>" for a commit; "<request> missing" (or another type) otherwise
        return {sha for sha, answer in zip(shas, answers, strict=True) if answer.split()[1:2] == ["commit"]}

    def oldest_commit_time(self, shas: Sequence[str]) -> int:
        """The earliest committer date of these commits (which this clone has), seconds since the
        epoch: one `git log` for them all, as there is one per deploy tag."""
        request = "".join(f"{sha}\n" for sha in shas).encode()
        try:
            output = _run(self.root, "log", "--no-walk=unsorted", "--format=%ct", "--stdin", stdin=request)
        except _Failed as exc:
            raise GitStateError(f"git log failed: {exc.stderr.strip()}") from exc
        return min(int(line) for line in output.split())

    def remote(self) -> str | None:
        names = self._git("remote").splitlines()
        if not names:
            return None
        return "origin" if "origin" in names else names[0]

    def commit_subject(self, sha: str) -> str:
        return str(self.objects.commit(sha).summary)

    def create_tag(self, name: str, commit: str, message: str) -> str:
        """Create an annotated tag; a name taken already (two deploys in one second) gets a suffix."""
        taken = set(
            self._git(
                "for-each-ref", "--format=%(refname:strip=2)", f"refs/tags/{name}", f"refs/tags/{name}-*"
            ).split()
        )
        chosen, number = name, 1
        while chosen in taken:
            chosen, number = f"{name}-{number}", number + 1
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as file, self._identity():
            file.write(message)
            file.flush()
            self._git("tag", "-a", "-F", file.name, "--end-of-options", chosen, commit)
        return chosen

    def delete_tag(self, name: str) -> None:
        self._git("tag", "-d", "--end-of-options", name)

    def push_tag(self, remote: str, name: str) -> None:
        """Push one tag; a race (the tag is already there) and a refusal fail differently."""
        try:
            self._git("push", "--end-of-options", remote, f"refs/tags/{name}:refs/tags/{name}")
        except _Failed as exc:
            detail = _without_credentials(" ".join(exc.stderr.split()) or str(exc))
            if is_tag_race(detail):
                raise TagRace(
                    f"pushing tag {name} to {remote} was refused: another deploy tagged first ({detail})",
                    hint="fetch the tags and rerun: the rerun starts from the other deploy's tag",
                ) from exc
            raise TagPushRefused(
                f"pushing tag {name} to {remote} failed: the cluster has the deploy, but no tag records it "
                f"({detail})",
                hint="give the pipeline's Git credentials the right to create tags under this prefix "
                "(see docs/ci/ and docs/security.md), then rerun: the rerun applies nothing new and tags",
            ) from exc

    def _identity(self) -> _Identity:
        return _Identity(lambda key: self._succeeds("config", "--get", key))


class _Identity:
    """Use a clear default tagger when the CI machine has no Git identity configured."""

    def __init__(self, configured: Callable[[str], bool]) -> None:
        self._configured = configured  # whether Git's configuration (any level) sets a key
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        has_name = "GIT_COMMITTER_NAME" in os.environ or self._configured("user.name")
        has_email = "GIT_COMMITTER_EMAIL" in os.environ or self._configured("user.email")
        defaults = {"GIT_COMMITTER_NAME": None if has_name else DEFAULT_IDENTITY[0]}
        defaults["GIT_COMMITTER_EMAIL"] = None if has_email else DEFAULT_IDENTITY[1]
        for key, value in defaults.items():
            if value is not None:
                self._saved[key] = os.environ.get(key)
                os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class _TreeFile:
    path: str
    kind: str
    object_id: str
    mode: str


def _text(output: bytes) -> str:
    """Git's output as text; bytes that are not UTF-8 (a path in another encoding) survive the trip
    back to bytes when the text is passed to Git again."""
    return output.decode("utf-8", errors="surrogateescape")


_OBJECT_HEADER = re.compile(r"(?P<id>[0-9a-f]{40}|[0-9a-f]{64}) (?P<kind>blob|tree|commit|tag) [0-9]+")


def _ls_tree_files(out: str) -> list[_TreeFile]:
    """Entries of `git ls-tree -z` output: "<mode> <kind> <id>\t<path>" each."""
    files = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, object_id = meta.split(" ")
        files.append(_TreeFile(path=path, kind=kind, object_id=object_id, mode=mode))
    return files


def _write_file(destination: Path, file: _TreeFile, data: bytes) -> None:
    target = destination / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if file.mode != SYMLINK_MODE:
        target.write_bytes(data)
        if file.mode == EXECUTABLE_MODE:
            target.chmod(0o755)
        return
    link = data.decode("utf-8", errors="replace")
    resolved = Path(os.path.normpath(target.parent / link))
    if Path(link).is_absolute() or not resolved.is_relative_to(Path(os.path.normpath(destination))):
        raise GitStateError(
            f"{file.path} is a symlink to {link}, outside the folders being rendered",
            hint="make it a relative link to a file in the repository, or commit the file itself",
        )
    target.symlink_to(link)


# What Git says when the tag is already on the remote: "! [rejected] T -> T (already exists)" when
# it was there before the push, "cannot lock ref 'refs/tags/T': reference already exists" when another
# push created it while this one was received. Everything else (a hook or a protected tag declining,
# missing rights, failed authentication, an unreachable remote) is not a race, and rerunning will not help.
_RACE = re.compile(r"\(already exists\)|reference already exists")
_CREDENTIALS_IN_URL = re.compile(r"(\w+://)[^/@\s]+@")


def is_tag_race(git_output: str) -> bool:
    return bool(_RACE.search(git_output))


def _without_credentials(text: str) -> str:
    """Git hides passwords in the URLs it prints, but not every version and helper does."""
    return _CREDENTIALS_IN_URL.sub(r"\1***@", text)


def _file(path: str, mode: str, sha: str) -> GitFile | None:
    if set(sha) == {"0"}:
        return None
    return GitFile(path=path, blob=sha, symlink=mode == SYMLINK_MODE, gitlink=mode == GITLINK_MODE)
