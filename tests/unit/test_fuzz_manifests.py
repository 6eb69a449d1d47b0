"""Fuzzing `plan --offline` with mutated real manifests: never a traceback, always a documented exit code.

Real manifests (tests/fixtures: ingress-nginx's deploy.yaml, a microservices-demo service) are
mutated in their bytes, their YAML structure and their values (tests/fuzzing.py), committed, and
planned offline in-process. Whatever the input, the command must end with an exit code of
gitops_push.errors.ExitCode that `plan` documents and must not raise: an exception escaping the CLI
is a traceback for the user. The mutations are seeded and bounded (about half a minute).
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_push.cli import main
from gitops_push.errors import ExitCode
from tests.conftest import FIXTURES
from tests.fuzzing import mutate

SEEDS = [FIXTURES / "ingress-nginx" / "deploy.yaml", FIXTURES / "microservices-demo" / "frontend.yaml"]
MUTANTS = 150
# plan: planned, usage or Git state (a file name Git refuses), invalid manifests
PLAN_EXIT_CODES = {ExitCode.OK, ExitCode.USAGE, ExitCode.INVALID}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    return root


def test_plan_offline_survives_every_mutation(repo: Path) -> None:
    rng = random.Random(13)
    seeds = [path.read_bytes() for path in SEEDS]
    failures = []
    for number in range(MUTANTS):
        data = mutate(rng.choice(seeds), rng)
        (repo / "k8s" / "app.yaml").write_bytes(data)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"mutant {number}")
        result = CliRunner().invoke(
            main, ["plan", "--offline", "--env", "fuzz", "--path", "k8s", "--repo", str(repo), "-o", "json"]
        )
        output = result.stdout + result.stderr
        if (
            result.exception is not None and not isinstance(result.exception, SystemExit)
        ) or "Traceback" in output:
            failures.append(f"mutant {number}: {result.exception!r} {data[:200]!r}")
        elif result.exit_code not in PLAN_EXIT_CODES:
            failures.append(f"mutant {number}: exit {result.exit_code} {output[-300:]!r}")
    assert failures == []
