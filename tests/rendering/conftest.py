"""The real renderers for the rendering tests: kustomize and helm, built by tools/build-renderers.

The build happens once per machine (the binaries are cached like the control plane's); if it fails,
every test that needs them errors with the reason. Nothing is skipped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from gitops_push.stages import rendering
from tests.conftest import CACHE_ROOT, FIXTURES, REPO_ROOT
from tests.unit import gitutil

BUILD_RENDERERS = REPO_ROOT / "tools" / "build-renderers"
ANY_SOURCES = (rendering.KustomizeSource("."), rendering.HelmSource("chart", "release", "namespace"))
# A stand-in for a renderer that logs each call, then runs the real one: counts the tool runs.
COUNTING = '#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n'


@pytest.fixture(scope="session")
def renderer_bin() -> Path:
    env = {**os.environ, "GITOPS_PUSH_CACHE": str(CACHE_ROOT)}
    result = subprocess.run([str(BUILD_RENDERERS)], env=env, stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"tools/build-renderers failed (exit {result.returncode}); its messages are above", False)
    return Path(result.stdout.strip().splitlines()[-1])


class ToolRuns:
    """Renderers on a PATH of their own that write each call to a log."""

    def __init__(self, folder: Path, real: Path) -> None:
        self.log = folder / "calls.log"
        self.log.touch()
        for name in ("kustomize", "helm"):
            script = folder / name
            script.write_text(COUNTING.format(log=self.log, real=real / name), encoding="utf-8")
            script.chmod(0o755)
        self.tools = rendering.find_tools(ANY_SOURCES, search_path=str(folder))

    def renders(self) -> int:
        """Calls other than the version questions that find_tools asked."""
        return sum(1 for line in self.log.read_text().splitlines() if not line.startswith("version"))


@pytest.fixture
def runs(renderer_bin: Path, tmp_path: Path) -> ToolRuns:
    folder = tmp_path / "counted-bin"
    folder.mkdir()
    return ToolRuns(folder, renderer_bin)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return gitutil.init(tmp_path / "repo")


def fixture_files(folder: str, under: str) -> dict[str, gitutil.Content | gitutil.Symlink]:
    """Every file of tests/fixtures/`folder`, placed under `under` in a test repository."""
    root = FIXTURES / folder
    return {
        f"{under}/{path.relative_to(root).as_posix()}": path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def names(objects: Iterable[rendering.RenderedObject]) -> list[str]:
    """kind/name of each object, in order."""
    return [f"{o.body['kind']}/{o.body['metadata']['name']}" for o in objects]
