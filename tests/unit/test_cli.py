"""The command line's front door: help, version, and a fast start."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from gitops_push import __version__
from gitops_push.cli import main


def test_help_lists_the_exit_codes() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Deploy Kubernetes manifests from Git" in result.output
    assert "3   validation failed" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"gitops-push, version {__version__}"


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from gitops_push.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('kubernetes', 'git', 'jsonschema', 'yaml', 'rich') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("HEAVY=")
