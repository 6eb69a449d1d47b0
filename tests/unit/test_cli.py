"""The command line's front door: help, version, and a fast start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_push import __version__, settings
from gitops_push.cli import main
from tests.unit import gitutil


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


PLAN_AND_REPORT_IMPORTS = (
    "import sys\n"
    "from gitops_push.cli import main\n"
    "try:\n    main(['plan', '--offline', '--env', 'dev', '--path', 'k8s', '-o', 'json'])\n"
    "except SystemExit as exit:\n    code = exit.code\n"
    "heavy = sorted(m for m in ('kubernetes', 'jsonschema') if m in sys.modules)\n"
    "print('HEAVY=' + ','.join(heavy) + f' EXIT={code}', file=sys.stderr)\n"
)
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: b}\n"


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (CONFIG_MAP, "HEAVY= EXIT=0"),  # valid: the fast schema check alone decides
        (
            CONFIG_MAP.replace("data: {a: b}", "data: {a: 1}"),
            "HEAVY=jsonschema EXIT=3",
        ),  # explained: exit 3 is a validation error
    ],
)
def test_an_offline_plan_imports_no_kubernetes_client_and_jsonschema_only_to_explain(
    tmp_path: Path, manifest: str, expected: str
) -> None:
    repo = gitutil.init(tmp_path / "repo")
    gitutil.commit(repo, {"k8s/settings.yaml": manifest})
    result = subprocess.run(
        [sys.executable, "-c", PLAN_AND_REPORT_IMPORTS], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.stderr.strip().endswith(expected), result.stderr


# An exit handler registered before the command line runs after the command line's own.
AT_EXIT_FROZEN = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print(f'FROZEN={gc.get_freeze_count()}', file=sys.stderr))\n"
    "from gitops_push.cli import entry\n"
    "entry(['plan', '--offline', '--env', 'dev', '--path', 'k8s', '-o', 'json'])\n"
)


def test_the_console_script_leaves_what_the_run_built_out_of_the_last_collection(tmp_path: Path) -> None:
    repo = gitutil.init(tmp_path / "repo")
    gitutil.commit(repo, {"k8s/settings.yaml": CONFIG_MAP})
    result = subprocess.run(
        [sys.executable, "-c", AT_EXIT_FROZEN], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert '"ConfigMap"' in result.stdout  # the plan is printed as ever
    frozen = int(result.stderr.strip().rsplit("FROZEN=", 1)[1])
    assert frozen > 10_000  # the modules and what the run built, not a handful of objects


# What the command line prints, what an earlier exit handler says, and whether the SystemExit ever
# came back up to this script (the interpreter's usual exit) or the process ended at once.
QUICK_EXIT = (
    "import atexit, sys, threading, time\n"
    "atexit.register(lambda: print('HANDLERS RAN', file=sys.stderr))\n"
    "if sys.argv[1] == 'thread':\n"
    "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    "from gitops_push.cli import entry\n"
    "try:\n"
    "    entry(sys.argv[2:])\n"
    "except SystemExit as done:\n"
    "    print(f'UNWOUND {done.code}', file=sys.stderr)\n"
    "    raise\n"
)


@pytest.mark.parametrize(("broken", "code", "objects"), [(False, 0, 300), (True, 3, 0)])
def test_the_console_script_ends_at_once_with_the_commands_exit_code_output_and_exit_handlers(
    tmp_path: Path, broken: bool, code: int, objects: int
) -> None:
    repo = gitutil.init(tmp_path / "repo")
    files = {f"k8s/app-{n}.yaml": CONFIG_MAP.replace("settings", f"settings-{n}") for n in range(300)}
    if broken:  # exit 3: validation failed, as documented
        files["k8s/broken.yaml"] = CONFIG_MAP.replace("settings", "broken").replace("{a: b}", "{a: 1}")
    gitutil.commit(repo, files)
    argv = ["plan", "--offline", "--env", "dev", "--path", "k8s", "-o", "json"]
    result = subprocess.run(
        [sys.executable, "-c", QUICK_EXIT, "alone", *argv],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == code, result.stderr
    report = json.loads(result.stdout)  # all of it written out before the process ended
    assert (report["exit_code"], len(report["objects"])) == (code, objects)
    assert "HANDLERS RAN" in result.stderr
    assert "UNWOUND" not in result.stderr


def test_with_another_thread_alive_the_console_script_exits_as_the_interpreter_does() -> None:
    result = subprocess.run(
        [sys.executable, "-c", QUICK_EXIT, "thread", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"gitops-push, version {__version__}"
    assert result.stderr.splitlines() == ["UNWOUND 0", "HANDLERS RAN"]


def test_python_m_runs_the_same_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gitops_push", "--version"], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"gitops-push, version {__version__}")


def test_unreachable_timeout_reaches_the_cluster_after_the_short_start_up_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitops_push import kube, pipeline
    from gitops_push.settings import Flags, Mode
    from tests.unit.fakecluster import FakeCluster

    seen: list[Flags] = []
    monkeypatch.setattr(pipeline, "run", lambda mode, flags, sink, cancellation: seen.append(flags))
    result = CliRunner().invoke(main, ["deploy", "--unreachable-timeout", "2m"])
    assert result.exit_code == 0, result.output
    assert seen[0].unreachable_timeout == 120.0

    cluster = FakeCluster()
    budgets: list[float] = []

    def version() -> str:
        budgets.append(cluster.unreachable_timeout)
        return "v1"

    monkeypatch.setattr(cluster, "version", version)
    monkeypatch.setattr(kube, "connect", lambda *args, **kwargs: cluster)
    repo = gitutil.init(tmp_path / "repo")
    gitutil.commit(repo, {"k8s/settings.yaml": CONFIG_MAP})
    resolved = settings.resolve(Mode.DEPLOY, repo, Flags(paths=("k8s",), unreachable_timeout=120.0), {})
    assert pipeline.connect(resolved) is cluster
    assert budgets == [pipeline.STARTUP_RETRY_BUDGET]  # a server down at the start fails fast
    assert cluster.unreachable_timeout == 120.0
