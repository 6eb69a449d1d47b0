"""Issue 14.8: the GitHub action refuses to run against a cluster without naming its credentials.

The action's `run` step is executed as the runner would (bash, inputs in the environment) with a
stub `gitops-push` that records its arguments: an empty `kubeconfig` input must stop the step before
gitops-push runs, and a runner whose ambient KUBECONFIG points somewhere is never used silently.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

ACTION = REPO_ROOT / "ci-templates" / "github" / "action.yml"


def run_step(tmp_path: Path, inputs: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    action = yaml.safe_load(ACTION.read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    defaults = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values = {**defaults, **inputs}
    env = {
        name: values[value.split("inputs.")[1].rstrip(" }")]
        for name, value in step["env"].items()
        if "inputs." in value
    }
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    # Records each call's arguments, one per line, then the Git configuration it got from its
    # environment; `history` answers "no deploys".
    (stub / "gitops-push").write_text(
        f'#!/bin/sh\nif [ "$1" = history ]; then echo "[]"; exit 0; fi\nprintf "%s\\n" "$@" > {calls}\n'
        f'printf "GIT_CONFIG=%s %s=%s\\n" "${{GIT_CONFIG_COUNT:-}}" "${{GIT_CONFIG_KEY_0:-}}" "${{GIT_CONFIG_VALUE_0:-}}" >> {calls}\n'
    )
    (stub / "gitops-push").chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    script = runner_temp / "step.sh"
    script.write_text(step["run"])
    ambient = tmp_path / "ambient-kubeconfig"
    ambient.write_text("the runner's own credentials\n")
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env={
            **os.environ,
            **env,
            "GITOPS_PUSH_BIN": str(stub),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(runner_temp / "output"),
            "KUBECONFIG": str(ambient),  # what a cloud login step or a self-hosted runner left behind
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("command", ["deploy", "plan", "status", "rollback"])
def test_an_empty_kubeconfig_input_is_an_error(command: str, tmp_path: Path) -> None:
    result, calls = run_step(tmp_path, {"command": command, "env": "prod", "kubeconfig": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "::error title=gitops-push action::the 'kubeconfig' input is empty" in result.stdout
    assert calls == [], "gitops-push ran with the runner's ambient credentials"


def test_an_offline_plan_needs_no_kubeconfig(tmp_path: Path) -> None:
    result, calls = run_step(tmp_path, {"command": "plan", "env": "prod", "offline": "true"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--offline" in calls and "--kubeconfig" not in calls


def test_a_named_kubeconfig_file_is_passed_explicitly(tmp_path: Path) -> None:
    path = tmp_path / "from-cloud-login"
    path.write_text("apiVersion: v1\n")
    result, calls = run_step(tmp_path, {"command": "deploy", "env": "prod", "kubeconfig-file": str(path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls[calls.index("--kubeconfig") + 1] == str(path)


def test_kubeconfig_contents_and_a_file_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "from-cloud-login"
    path.write_text("apiVersion: v1\n")
    result, calls = run_step(
        tmp_path, {"command": "deploy", "env": "prod", "kubeconfig": "x", "kubeconfig-file": str(path)}
    )
    assert result.returncode == 2 and calls == [], result.stdout + result.stderr


def test_the_push_token_reaches_git_through_the_environment_only(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\n")
    inputs = {"command": "deploy", "env": "prod", "kubeconfig-file": str(path), "push-token": "ghs_tok"}
    result, calls = run_step(tmp_path, inputs)
    assert result.returncode == 0, result.stdout + result.stderr
    header = "AUTHORIZATION: basic " + base64.b64encode(b"x-access-token:ghs_tok").decode()
    assert calls[-1] == f"GIT_CONFIG=1 http.https://github.com/.extraheader={header}"
    assert f"::add-mask::{header}" in result.stdout  # the runner hides it in the log


def test_without_a_push_token_git_gets_no_extra_configuration(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\n")
    result, calls = run_step(tmp_path, {"command": "deploy", "env": "prod", "kubeconfig-file": str(path)})
    assert result.returncode == 0 and calls[-1] == "GIT_CONFIG= =", result.stdout + result.stderr
