"""Developer and CI tasks. `nox` runs the default sessions: lint, typecheck, imports, tests.

Every session installs what it needs into its own virtualenv; the e2e tests build and start the real
control plane through tools/devcluster (Go from the machine, everything else from the registries).
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "imports", "docs", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
DOCS_DEPS = ["mkdocs==1.6.1", "mkdocs-click==0.9.0", "pymdown-extensions==13.1.2"]
TEST_DEPS = ["pytest>=8", "cryptography>=42", "xmlschema>=3", "hypothesis>=6.100"]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    sources = ["gitops_push", "tests", "benchmarks", "noxfile.py", "tools/devcluster", "tools/update-schemas"]
    session.run("ruff", "check", *sources)
    session.run("ruff", "format", "--check", *sources)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict, over the package and the tests."""
    session.install("-e", ".", "mypy>=1.10", "types-PyYAML", "types-jsonschema", *TEST_DEPS)
    session.run("mypy", "gitops_push", "tests")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter: the layers of docs/architecture.md hold."""
    session.install("-e", ".", "import-linter>=2")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """MkDocs, strict: every page, link, anchor and snippet; the CLI reference from the click commands."""
    session.install("-e", ".", *DOCS_DEPS)
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site"))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests and e2e tests against a real control plane (built and started by the tests)."""
    session.install("-e", ".", *TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmarks of docs/benchmarks.md; rewrites its results table unless given arguments."""
    session.install("-e", ".", "cryptography>=42", "fastjsonschema")  # the last for validation_throughput.py
    session.run("python", "benchmarks/run_all.py", *(session.posargs or ["--update-docs"]))
