"""Real Git repositories for unit tests: init, write files, commit, tag, all through the `git` command.

The autouse `isolate` fixture (tests/conftest.py) already gives each test its own HOME and Git identity.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# A file's content: text, raw bytes, a Symlink to create, or None to delete the file.
Content = str | bytes | None


class Symlink:
    """A symbolic link to create in the work tree; Git stores it as a blob with mode 120000."""

    def __init__(self, target: str) -> None:
        self.target = target


def git(repo: Path, *args: str, date: str | None = None, stdin: str | None = None) -> str:
    """Run git in `repo`; `date` fixes both author and committer dates (and so a tag's date)."""
    env = dict(os.environ)
    if date is not None:
        env["GIT_AUTHOR_DATE"] = date
        env["GIT_COMMITTER_DATE"] = date
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def write(repo: Path, files: Mapping[str, Content | Symlink]) -> None:
    for name, content in files.items():
        target = repo / name
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        if isinstance(content, Symlink):
            target.symlink_to(content.target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


def commit(
    repo: Path, files: Mapping[str, Content | Symlink], message: str = "change", date: str | None = None
) -> str:
    """Write `files`, commit everything, and return the new commit's SHA."""
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def tag(repo: Path, name: str, rev: str = "HEAD", message: str = "deployed", date: str | None = None) -> None:
    """An annotated tag; its tag date is `date` when given."""
    git(repo, "tag", "-a", name, rev, "-m", message, date=date)
