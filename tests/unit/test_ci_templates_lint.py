"""ci-templates/ checked by the real linters: actionlint (with shellcheck), zizmor, npm-groovy-lint and
gitlab-ci-local.

The tools come from tools/install-ci-tools (once per test run, into the cache outside the checkout).
If it cannot install them, every test here fails with its messages: nothing is skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CACHE_ROOT, REPO_ROOT

TEMPLATES = REPO_ROOT / "ci-templates"
INSTALL_CI_TOOLS = REPO_ROOT / "tools" / "install-ci-tools"
GITHUB = TEMPLATES / "github"
JENKINSFILE = TEMPLATES / "jenkins" / "Jenkinsfile"
GITLAB_TEMPLATE = TEMPLATES / "gitlab" / "gitops-push.gitlab-ci.yml"
GITLAB_EXAMPLE = TEMPLATES / "gitlab" / "example.gitlab-ci.yml"
# How the example workflows name the action; the lint rewrites it to the local copy.
ACTION_REFERENCE = re.compile(r"your-org/gitops-push/ci-templates/github@v[0-9][0-9.]*")
TOOLS = ("actionlint", "shellcheck", "zizmor", "npm-groovy-lint", "gitlab-ci-local")
ZIZMOR_CONFIG = GITHUB / "zizmor.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@dataclass(frozen=True)
class CiTools:
    """The bin folder that tools/install-ci-tools printed."""

    bin: Path

    def __call__(self, name: str) -> str:
        path = self.bin / name
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: tools/install-ci-tools did not install {name}", pytrace=False)
        return str(path)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment with the tools first on PATH."""
        return {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", **(extra or {})}


def run(
    args: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a tool in a process group of its own; on timeout the whole group is killed (npm-groovy-lint's
    java child would otherwise outlive it), and the test fails with what the tool printed."""
    with subprocess.Popen(
        args,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(
                f"{args[0]} did not finish in {timeout:.0f} s\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                pytrace=False,
            )
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def ci_tools() -> CiTools:
    """Install (or find, in a second) the CI tools; fail every test that needs them if that fails."""
    env = {**os.environ, "GITOPS_PUSH_CACHE": str(CACHE_ROOT)}
    try:
        result = run([str(INSTALL_CI_TOOLS)], cwd=REPO_ROOT, env=env, timeout=1800)
    except OSError as exc:
        pytest.fail(f"tools/install-ci-tools could not run: {exc}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"tools/install-ci-tools failed (exit {result.returncode}):\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    lines = result.stdout.strip().splitlines()
    if not lines or not Path(lines[-1]).is_dir():
        pytest.fail(f"tools/install-ci-tools printed no bin folder:\n{result.stdout}", pytrace=False)
    tools = CiTools(Path(lines[-1]))
    for name in TOOLS:
        tools(name)
    return tools


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# --- GitHub Actions -------------------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Dumps multi-line strings as literal blocks, so actionlint's messages point at readable lines."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def load_yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def action_as_workflow(action: Mapping[str, Any]) -> dict[str, Any]:
    """The composite action's steps as a reusable workflow with the same inputs and outputs.

    actionlint checks an action's metadata only where a workflow uses it, and not the steps inside.
    As a workflow_call workflow the steps get every check: expressions and the contexts they name,
    the inputs of the actions they use, and shellcheck on each `run:` script.
    """
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
        for name, spec in action["inputs"].items()
    }
    return {
        "name": "composite steps of ci-templates/github/action.yml",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {
            "action": {
                "runs-on": "ubuntu-latest",
                "outputs": {name: spec["value"] for name, spec in action["outputs"].items()},
                "steps": action["runs"]["steps"],
            }
        },
    }


def github_project(root: Path) -> Path:
    """A repository with the example workflows using the action by its local path, and its steps."""
    shutil.copytree(GITHUB, root / "ci-templates" / "github")
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for name in ("deploy.yml", "plan.yml"):
        text = (GITHUB / "workflows" / name).read_text()
        assert ACTION_REFERENCE.search(text), (
            f"{name} does not use your-org/gitops-push/ci-templates/github@REF"
        )
        (workflows / name).write_text(ACTION_REFERENCE.sub("./ci-templates/github", text))
    action = load_yaml(GITHUB / "action.yml")
    (workflows / "action-steps.yml").write_text(
        yaml.dump(action_as_workflow(action), Dumper=_BlockDumper, sort_keys=False, width=200)
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def actionlint(tools: CiTools, project: Path) -> subprocess.CompletedProcess[str]:
    return run(
        [tools("actionlint"), "-no-color", "-shellcheck", tools("shellcheck"), "-pyflakes", ""],
        cwd=project,
        env=tools.env(),
    )


def test_actionlint_finds_nothing_in_the_action_and_the_workflows(ci_tools: CiTools, tmp_path: Path) -> None:
    project = github_project(tmp_path / "project")
    result = actionlint(ci_tools, project)
    assert result.returncode == 0 and not result.stdout.strip(), output(result)


def test_actionlint_really_checks_the_action_inputs_and_its_shell(ci_tools: CiTools, tmp_path: Path) -> None:
    """A control: planted mistakes are reported, so a clean run above means something."""
    project = github_project(tmp_path / "project")
    plan = project / ".github" / "workflows" / "plan.yml"
    plan.write_text(plan.read_text().replace("command: plan", "command: plan\n          no-such-input: x", 1))
    steps = project / ".github" / "workflows" / "action-steps.yml"
    steps.write_text(steps.read_text().replace("code=0\n", "code=`true`\n", 1))
    result = actionlint(ci_tools, project)
    assert result.returncode == 1, output(result)
    assert 'input "no-such-input" is not defined in action "gitops-push"' in result.stdout, output(result)
    assert "SC2006" in result.stdout, output(result)


def zizmor(tools: CiTools, project: Path) -> subprocess.CompletedProcess[str]:
    """zizmor's widest persona, offline (no GitHub token, no network), with the explained exceptions.

    zizmor audits action.yml itself; the action's steps as a workflow exist for actionlint only."""
    (project / ".github" / "workflows" / "action-steps.yml").unlink(missing_ok=True)
    return run(
        [
            tools("zizmor"),
            "--offline",
            "--persona",
            "auditor",
            "--no-progress",
            "--color",
            "never",
            "--config",
            str(ZIZMOR_CONFIG),
            ".",
        ],
        cwd=project,
        env=tools.env(),
    )


def test_zizmor_finds_nothing_in_the_action_and_the_workflows(ci_tools: CiTools, tmp_path: Path) -> None:
    result = zizmor(ci_tools, github_project(tmp_path / "project"))
    assert result.returncode == 0, output(result)
    assert "No findings to report" in result.stdout + result.stderr, output(result)


def test_zizmor_really_audits_the_templates(ci_tools: CiTools, tmp_path: Path) -> None:
    """A control: the weaknesses of issue 14.6, planted back, are reported."""
    project = github_project(tmp_path / "project")
    plan = project / ".github" / "workflows" / "plan.yml"
    text = plan.read_text().replace(
        "persist-credentials: false  # nothing here pushes", "fetch-tags: true", 1
    )
    plan.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v6", text, count=1))
    deploy = project / ".github" / "workflows" / "deploy.yml"
    deploy.write_text(deploy.read_text().replace("permissions: {}", "permissions:\n  contents: write", 1))
    result = zizmor(ci_tools, project)
    assert result.returncode != 0, output(result)
    for audit in ("unpinned-uses", "artipacked", "excessive-permissions"):
        assert f"[{audit}]" in result.stdout, output(result)


def uses(path: Path) -> list[str]:
    """Every `uses:` of a workflow or of the action's steps."""
    data = load_yaml(path)
    steps = [s for job in data.get("jobs", {}).values() for s in job.get("steps", [])]
    steps += data.get("runs", {}).get("steps", [])
    return [str(step["uses"]) for step in steps if "uses" in step]


def test_every_third_party_action_is_pinned_by_commit_sha() -> None:
    for path in (GITHUB / "action.yml", *sorted((GITHUB / "workflows").glob("*.yml"))):
        for reference in uses(path):
            if ACTION_REFERENCE.fullmatch(reference):
                continue  # gitops-push itself: the user's own copy, pinned as the comment says
            assert PINNED.match(reference), f"{path.name}: {reference} is not pinned to a commit SHA"


def test_deploys_run_from_the_default_branch_only_and_keep_no_credentials() -> None:
    deploy = load_yaml(GITHUB / "workflows" / "deploy.yml")
    assert deploy["permissions"] == {}
    for job in deploy["jobs"].values():
        assert job["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
        assert job["permissions"] == {"contents": "write"}
        assert job["environment"] in ("staging", "production")
    for name in ("deploy.yml", "plan.yml"):
        for job in load_yaml(GITHUB / "workflows" / name)["jobs"].values():
            checkout = job["steps"][0]
            assert checkout["with"]["persist-credentials"] is False, f"{name}: {checkout}"


def test_pull_requests_plan_offline_or_with_a_gated_identity() -> None:
    plan = load_yaml(GITHUB / "workflows" / "plan.yml")
    offline, cluster = plan["jobs"]["plan-offline"], plan["jobs"]["plan-cluster"]
    step = next(s for s in offline["steps"] if s.get("id") == "plan")
    assert step["with"]["offline"] == "true" and "kubeconfig" not in step["with"]
    assert "secrets." not in yaml.safe_dump(offline)
    # The cluster plan: its own identity, only behind an environment's reviewers, never for forks.
    assert cluster["environment"] == "plan-staging"
    assert cluster["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    step = next(s for s in cluster["steps"] if s.get("id") == "plan")
    assert step["with"]["kubeconfig"] == "${{ secrets.PLAN_KUBECONFIG }}"


def test_the_action_installs_from_its_own_repository_by_default() -> None:
    action = load_yaml(GITHUB / "action.yml")
    install = next(step for step in action["runs"]["steps"] if step.get("id") == "install")
    assert '"$GITHUB_ACTION_PATH/../.."' in install["run"]
    assert (GITHUB / ".." / ".." / "pyproject.toml").resolve() == REPO_ROOT / "pyproject.toml"
    for name in ("deploy.yml", "plan.yml"):
        workflow = load_yaml(GITHUB / "workflows" / name)
        for job in workflow["jobs"].values():
            checkout = job["steps"][0]
            assert checkout["uses"].startswith("actions/checkout@")
            assert checkout["with"]["fetch-depth"] == 0, f"{name}: the last deploy tag needs full history"
    deploy = load_yaml(GITHUB / "workflows" / "deploy.yml")
    assert {job["concurrency"]["group"] for job in deploy["jobs"].values()} == {
        "deploy-staging",
        "deploy-production",
    }


# --- Jenkins --------------------------------------------------------------------------------------


def test_npm_groovy_lint_finds_nothing_in_the_jenkinsfile(ci_tools: CiTools, tmp_path: Path) -> None:
    """CodeNarc with the recommended Jenkinsfile rules (ci-templates/jenkins/.groovylintrc.json).

    A truncated copy is linted in the same run as a control: it must be reported as unparsable.
    """
    # Both files in one folder: npm-groovy-lint scans from the files' common folder, so files far
    # apart (the checkout and /tmp) would make it walk the whole disk.
    linted, broken = tmp_path / "template" / "Jenkinsfile", tmp_path / "broken" / "Jenkinsfile"
    for path in (linted, broken):
        path.parent.mkdir()
    shutil.copy(JENKINSFILE, linted)
    broken.write_text(JENKINSFILE.read_text().rstrip().removesuffix("}"))
    result = run(
        [
            ci_tools("npm-groovy-lint"),
            "--config",
            str(JENKINSFILE.parent),
            "--output",
            "json",
            "--failon",
            "none",
            str(linted),
            str(broken),
        ],
        cwd=tmp_path,
        env=ci_tools.env(),
        timeout=180,
    )
    assert result.returncode == 0, output(result)
    report = json.loads(result.stdout)
    files = {Path(name).resolve(): found["errors"] for name, found in report["files"].items()}
    assert files.get(linted.resolve(), []) == [], json.dumps(files, indent=2)
    assert [e["rule"] for e in files.get(broken.resolve(), [])] == ["NglParseError"], output(result)
    assert report["summary"]["totalFilesLinted"] == 2, output(result)


# --- shell inside the templates -------------------------------------------------------------------


def shellcheck(tools: CiTools, script: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{name}.sh"
    path.write_text(script)
    return run([tools("shellcheck"), "--shell=sh", "--norc", str(path)], cwd=tmp_path, env=tools.env())


def test_shellcheck_finds_nothing_in_the_gitlab_job_script(ci_tools: CiTools, tmp_path: Path) -> None:
    template = load_yaml(GITLAB_TEMPLATE)
    script = "\n".join(template[".gitops-push"]["script"])
    result = shellcheck(ci_tools, script, tmp_path, "gitlab-job")
    assert result.returncode == 0, output(result)


def test_shellcheck_finds_nothing_in_the_jenkinsfile_sh_steps(ci_tools: CiTools, tmp_path: Path) -> None:
    blocks = re.findall(r"sh '''(.*?)'''", JENKINSFILE.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 4, "expected the install, fetch, plan and deploy sh steps"
    for number, block in enumerate(blocks):
        result = shellcheck(ci_tools, block, tmp_path, f"jenkins-{number}")
        assert result.returncode == 0, f"sh step {number}:\n{block}\n{output(result)}"


def test_shellcheck_finds_nothing_in_install_ci_tools(ci_tools: CiTools, tmp_path: Path) -> None:
    result = run([ci_tools("shellcheck"), "--norc", str(INSTALL_CI_TOOLS)], cwd=tmp_path, env=ci_tools.env())
    assert result.returncode == 0, output(result)


# --- GitLab CI ------------------------------------------------------------------------------------


def test_gitlab_ci_local_accepts_the_example_pipeline(ci_tools: CiTools, tmp_path: Path) -> None:
    """The example, its include pointed at a local copy of the template, passes GitLab's JSON Schema."""
    root = tmp_path / "project"
    (root / "ci-templates" / "gitlab").mkdir(parents=True)
    shutil.copy(GITLAB_TEMPLATE, root / "ci-templates" / "gitlab")
    example = load_yaml(GITLAB_EXAMPLE)
    assert [entry["file"] for entry in example["include"]] == [
        "ci-templates/gitlab/gitops-push.gitlab-ci.yml"
    ]
    example["include"] = [{"local": "ci-templates/gitlab/gitops-push.gitlab-ci.yml"}]
    (root / ".gitlab-ci.yml").write_text(yaml.safe_dump(example, sort_keys=False))
    env = ci_tools.env({"HOME": str(tmp_path)})
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline"], cwd=root, check=True)
    result = run([ci_tools("gitlab-ci-local"), "--list-json"], cwd=root, env=env)
    assert result.returncode == 0, output(result)
    jobs = {job["name"]: job for job in json.loads(result.stdout)}
    assert set(jobs) == {"plan-staging", "deploy-staging", "promote-production"}, output(result)
    # On the default branch, outside a merge request: deploy runs, promote waits for a person.
    assert (jobs["plan-staging"]["when"], jobs["deploy-staging"]["when"]) == ("never", "on_success")
    assert jobs["promote-production"]["when"] == "manual"
    assert jobs["deploy-staging"]["stage"] == "deploy"


def test_the_gitlab_template_serialises_deploys_and_fetches_history() -> None:
    template = load_yaml(GITLAB_TEMPLATE)
    base, deploy = template[".gitops-push"], template[".gitops-push-deploy"]
    assert base["variables"]["GIT_DEPTH"] == "0"
    assert deploy["resource_group"] == "deploy-$GITOPS_PUSH_ENV"
    assert base["artifacts"]["reports"]["junit"] == "gitops-push-junit.xml"
    assert base["artifacts"]["when"] == "always"
