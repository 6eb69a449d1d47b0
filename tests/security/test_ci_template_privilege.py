"""Issue 14.6: the Jenkins and GitLab templates keep unreviewed code away from the credentials.

The templates' own shell runs here against a planted attack: a workspace (the change under review)
that commits a virtualenv with a `.pth` file, and `venv/` and `pip/` packages that `python -m` would
import from the current folder. gitops-push is a stub wheel that records how it was called and with
which KUBECONFIG; the attack writes a marker file if any of its code runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.unit import gitutil

JENKINSFILE = REPO_ROOT / "ci-templates" / "jenkins" / "Jenkinsfile"
GITLAB_TEMPLATE = REPO_ROOT / "ci-templates" / "gitlab" / "gitops-push.gitlab-ci.yml"
PAYLOAD = "import pathlib; pathlib.Path({marker!r}).write_text('the change under review ran')\n"


def stub_wheel(directory: Path, calls: Path) -> Path:
    """A wheel whose `gitops-push` script appends its arguments and KUBECONFIG to `calls`."""
    module = (
        "import os, sys\n"
        "def main():\n"
        f"    with open({str(calls)!r}, 'a') as f:\n"
        "        f.write(' '.join(sys.argv[1:]) + ' KUBECONFIG=' + os.environ.get('KUBECONFIG', '-') + '\\n')\n"
    )
    info = "gitops_push_stub-0.0.0.dist-info"
    files = {
        "gitops_push_stub.py": module,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: gitops-push-stub\nVersion: 0.0.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\ngitops-push = gitops_push_stub:main\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / "gitops_push_stub-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def plant(workspace: Path, marker: Path, venv_names: list[str]) -> None:
    """What a hostile change commits: site-packages of a venv, and modules that shadow venv and pip."""
    for venv in venv_names:
        for minor in range(8, 16):
            site = workspace / venv / "lib" / f"python3.{minor}" / "site-packages"
            site.mkdir(parents=True, exist_ok=True)
            (site / "x.pth").write_text(
                PAYLOAD.format(marker=str(marker)).replace("\n", "; ").rstrip("; ") + "\n"
            )
    for module in ("venv", "pip"):
        (workspace / module).mkdir(exist_ok=True)
        (workspace / module / "__init__.py").write_text(PAYLOAD.format(marker=str(marker)))
        (workspace / module / "__main__.py").write_text(PAYLOAD.format(marker=str(marker)))


def sh(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )


# --- Jenkins ---------------------------------------------------------------------------------------


def jenkins_step(stage: str) -> str:
    """The first `sh '''…'''` step of a stage of the Jenkinsfile."""
    text = JENKINSFILE.read_text()
    start = text.find(f"stage('{stage}')")
    assert start >= 0, f"the Jenkinsfile has no stage {stage!r}"
    match = re.search(r"sh '''(.*?)'''", text[start:], flags=re.DOTALL)
    assert match, stage
    return match.group(1)


@pytest.fixture
def jenkins(tmp_path: Path) -> tuple[Path, dict[str, str], Path, Path]:
    workspace, workspace_tmp = tmp_path / "ws", tmp_path / "ws@tmp"
    workspace.mkdir()
    workspace_tmp.mkdir()
    marker, calls = tmp_path / "pwned", tmp_path / "calls"
    plant(workspace, marker, [".gitops-push-venv"])
    plant(workspace_tmp, marker, ["gitops-push-venv"])  # left by an earlier build on this agent
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "WORKSPACE": str(workspace),
        "WORKSPACE_TMP": str(workspace_tmp),
        "GITOPS_PUSH_SOURCE": str(stub_wheel(tmp_path, calls)),
        "GITOPS_PUSH_ENV": "staging",
        "GITOPS_PUSH_PATH": "k8s",
        "KUBECONFIG": str(tmp_path / "agent-kubeconfig"),  # whatever the agent has lying around
    }
    return workspace, env, marker, calls


def test_jenkins_installs_outside_the_workspace_and_runs_nothing_from_it(
    jenkins: tuple[Path, dict[str, str], Path, Path],
) -> None:
    workspace, env, marker, calls = jenkins
    installed = sh(jenkins_step("Install gitops-push"), workspace, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    planned = sh(jenkins_step("Plan (fork, offline)"), workspace, env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert not marker.exists(), "code committed to the workspace ran"
    lines = calls.read_text().splitlines()
    assert lines[0].startswith("--version")
    assert lines[1].startswith("plan --offline --env staging --path k8s"), lines
    assert lines[1].endswith("KUBECONFIG=-"), "a fork's plan must run without any kubeconfig"


def test_jenkins_binds_no_credential_for_a_fork_and_the_plan_identity_otherwise() -> None:
    text = JENKINSFILE.read_text()
    fork = text[text.index("stage('Plan (fork, offline)')") : text.index("stage('Deploy')")]
    assert "withKubeconfig" not in fork and "withCredentials" not in fork and "CHANGE_FORK != null" in fork
    same = text[text.index("stage('Plan')") : text.index("stage('Plan (fork, offline)')")]
    assert "withKubeconfig(env.PLAN_KUBECONFIG_CREDENTIAL)" in same and "CHANGE_FORK == null" in same


# --- GitLab ----------------------------------------------------------------------------------------


def gitlab_job(name: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A template job's script and variables, with what it `extends:` merged in (one level deep)."""
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text())
    chain, job = [], template[name]
    while True:
        chain.append(job)
        parent = job.get("extends")
        if not parent:
            break
        job = template[parent]
    merged: dict[str, Any] = {}
    variables: dict[str, str] = dict(template.get("variables", {}))
    for part in reversed(chain):
        merged.update(part)
        variables.update(part.get("variables", {}))
    return "\n".join(merged["script"]), variables, merged


def test_the_gitlab_plan_job_plans_offline_without_the_kubeconfig(tmp_path: Path) -> None:
    script, variables, job = gitlab_job(".gitops-push-plan")
    assert "environment" not in job, "a plan job with an environment gets its scoped KUBECONFIG"
    origin = tmp_path / "origin.git"
    gitutil.git(tmp_path, "init", "-q", "--bare", str(origin))
    project = gitutil.init(tmp_path / "project")
    gitutil.commit(project, {"k8s/a.yaml": "a: 1\n"})
    gitutil.git(project, "remote", "add", "origin", str(origin))
    gitutil.git(project, "push", "-q", "origin", "main")
    marker, calls = tmp_path / "pwned", tmp_path / "calls"
    plant(project, marker, [])
    env = {
        **os.environ,
        **variables,
        "GITOPS_PUSH_ENV": "staging",
        "GITOPS_PUSH_PATH": "k8s",
        "GITOPS_PUSH_SOURCE": str(stub_wheel(tmp_path, calls)),
        "KUBECONFIG": str(tmp_path / "deploy-kubeconfig"),  # an unprotected variable reached the job
        "TMPDIR": str(tmp_path),
        "PATH": os.pathsep.join(
            p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent
        ),
    }
    result = sh(script, project, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists(), "code committed to the merge request ran"
    plan = [line for line in calls.read_text().splitlines() if line.startswith("plan")]
    assert plan and "--offline" in plan[0] and plan[0].endswith("KUBECONFIG=-"), plan


def test_the_gitlab_cluster_plan_is_gated_and_uses_the_plan_environment() -> None:
    _, variables, job = gitlab_job(".gitops-push-plan-cluster")
    assert variables["GITOPS_PUSH_OFFLINE"] == "false"
    assert job["environment"] == {"name": "plan-$GITOPS_PUSH_ENV", "action": "prepare"}
    rules: list[dict[str, str]] = job["rules"]
    [rule] = rules
    assert rule["when"] == "manual"
    assert "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID" in rule["if"]
