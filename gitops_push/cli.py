"""The command line: parse flags into Settings, run the pipeline, turn the Summary into an exit code.

Nothing else lives here. Heavy modules (the Kubernetes client, GitPython, jsonschema) are imported
inside the commands that need them, so `gitops-push --help` starts fast.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from gitops_push import __version__
from gitops_push.errors import GitopsPushError

EXIT_CODES_HELP = """\b
Exit codes:
  0   success (also: nothing to deploy)
  1   apply, prune or wait failed; cluster unreachable; tag push refused
  2   usage, configuration or Git state error
  3   validation failed: nothing was applied
  4   server-side dry-run rejected a change: nothing was applied
  5   another deploy tagged first (tag exists), or holds the lock
  10  plan --detailed-exitcode: changes are pending
"""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "GITOPS_PUSH"},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "--version", prog_name="gitops-push")
def main() -> None:
    """Deploy Kubernetes manifests from Git, push-style, from CI pipelines.

    gitops-push finds the last deployed Git tag of an environment, applies only the objects that
    changed since then (server-side dry-run first, then server-side apply in a safe order, pruning
    what Git deleted) and tags the deployed commit.
    """


def _common(
    *, revisions: bool = True, environment: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The options the pipeline commands share (flags override gitops-push.yaml).

    rollback, promote and status name their own revisions (and promote its environments).
    """
    env_option = click.option(
        "--env", "environment", metavar="NAME", help="Environment name (default: default)."
    )
    revision_options = [
        click.option(
            "--to", "to", default="HEAD", show_default=True, metavar="REV", help="The commit to deploy."
        ),
        click.option(
            "--from", "from_rev", metavar="REV", help="Compare with REV instead of the last deploy tag."
        ),
    ]
    options = [
        click.option(
            "--path",
            "paths",
            multiple=True,
            metavar="PATH",
            help="Folder or file of manifests, relative to the repository root; repeatable.",
        ),
        click.option("--namespace", metavar="NS", help="Namespace for namespaced objects that name none."),
        click.option(
            "--tag-prefix", metavar="PREFIX", help="Deploy tags live under PREFIX/ (default: deployed/ENV)."
        ),
        click.option(
            "--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file (default: $KUBECONFIG)."
        ),
        click.option("--context", metavar="NAME", help="Kubeconfig context."),
        click.option(
            "--repo",
            "repo",
            type=click.Path(file_okay=False, exists=True, path_type=Path),
            default=".",
            show_default=True,
            help="Any folder inside the Git repository.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="Parallel requests to the API server.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(["text", "json", "github"]),
            default=None,
            help="text for people (default); json for machines (one document on stdout); github for "
            "workflow annotations and a job summary (default inside GitHub Actions).",
        ),
        click.option(
            "--junit",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="FILE",
            help="Also write a JUnit XML report (Jenkins, GitLab).",
        ),
        click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
        click.option(
            "-v", "--verbose", count=True, help="Also list unchanged objects and every health change."
        ),
        click.option("-q", "--quiet", is_flag=True, help="Only errors and the final line."),
        click.option(
            "--request-timeout",
            type=Duration(),
            default="30s",
            show_default=True,
            help="Give up on one API request after this long (it is retried if it can be).",
        ),
        click.option(
            "--retry-timeout",
            type=Duration(),
            default="90s",
            show_default=True,
            help="Retry reads and applies on connection faults, 429 and 5xx for at most this long.",
        ),
    ]
    options = ([env_option] if environment else []) + options + (revision_options if revisions else [])

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _fail(exc: GitopsPushError) -> NoReturn:
    """For the commands that print no event stream (history, unlock): the error, its hint, its code."""
    from gitops_push.reporters.safe import printable  # names and Git's words: no escapes reach a terminal

    click.echo(f"error: {printable(exc)}", err=True)
    if exc.hint:
        click.echo(f"hint: {printable(exc.hint)}", err=True)
    sys.exit(int(exc.exit_code))


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A duration such as 90, 90s, 5m or 1h, in seconds."""

    name = "duration"
    UNITS: ClassVar[dict[str, int]] = {"s": 1, "m": 60, "h": 3600}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        unit = text[-1:] if text[-1:] in self.UNITS else "s"
        number = text[:-1] if text[-1:] in self.UNITS else text
        try:
            seconds = float(number) * self.UNITS[unit]
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 90s, 5m or 1h", param, ctx)
        if seconds <= 0:
            self.fail("a duration must be positive", param, ctx)
        return seconds


def _run(
    mode_name: str,
    options: dict[str, Any],
    *,
    show_diff: bool = False,
    pending_exit_code: int | None = None,
    runner: str = "run",
    **extra: Any,
) -> None:
    """Build the reporters, run the pipeline, exit with the code the Summary gives."""
    from gitops_push import pipeline, reporters
    from gitops_push.settings import Mode

    output, no_color, verbose = options.pop("output"), options.pop("no_color"), options.pop("verbose")
    quiet, junit, repo = options.pop("quiet"), options.pop("junit"), options.pop("repo")
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose exclude each other")
    from gitops_push.model import Diffs

    # Diffs cost most of a large plan: render only those someone will read.
    if not show_diff or quiet or output == "json":
        options["diffs"] = Diffs.NONE
    else:
        options["diffs"] = Diffs.ALL if verbose else Diffs.UPDATES
    sink = reporters.build(
        output,
        show_diff=show_diff,
        verbose=verbose,
        quiet=quiet,
        no_color=no_color,
        pending_exit_code=pending_exit_code,
        junit=junit,
    )
    getattr(pipeline, runner)(Mode(mode_name), repo, options, sink, **extra)
    summary = sink.close()
    sys.exit(int(summary.exit_code))


def _deploy_options(function: Callable[..., None]) -> Callable[..., None]:
    """What every command that writes to the cluster takes."""
    options = [
        click.option(
            "--force-conflicts", is_flag=True, help="Take over fields that another field manager owns."
        ),
        click.option(
            "--prune/--no-prune", default=True, show_default=True, help="Delete objects Git removed."
        ),
        click.option(
            "--replace-immutable",
            is_flag=True,
            help="Delete and recreate objects whose immutable fields change (a Job's template, a selector...).",
        ),
        click.option("--allow-empty", is_flag=True, help="Allow a deploy that leaves the environment empty."),
        click.option(
            "--max-prune",
            type=click.IntRange(0),
            default=50,
            show_default=True,
            help="Refuse a deploy that would prune more objects than this.",
        ),
        click.option(
            "--push/--no-push", default=None, help="Push the deploy tag (default: when there is a remote)."
        ),
        click.option(
            "--wait/--no-wait", default=True, show_default=True, help="Wait until what changed is healthy."
        ),
        click.option(
            "--timeout",
            type=Duration(),
            default="5m",
            show_default=True,
            help="How long to wait for health, in all (90s, 5m, 1h).",
        ),
        click.option(
            "--rollback-on-failure",
            is_flag=True,
            help="If apply or wait fails, return the environment to its last deployed tag.",
        ),
        click.option(
            "--lock-timeout",
            type=Duration(),
            default="10m",
            show_default=True,
            help="How long to wait for another deploy of the environment to finish.",
        ),
        click.option("--diff", "show_diff", is_flag=True, help="Print the diff of every change."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@main.command()
@_common()
@click.option(
    "--offline", is_flag=True, help="No cluster: validate with bundled schemas, diff Git against Git."
)
@click.option(
    "--all", "all_objects", is_flag=True, help="Plan every object under the paths, not just what changed."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 10 when changes are pending, 0 when there are none."
)
def plan(detailed_exitcode: bool, **options: Any) -> None:
    """Show what a deploy would do, object by object, with diffs; change nothing.

    Compares the last deploy tag of the environment with --to, validates the changed objects and,
    when the cluster is reachable, server-side dry-runs them and diffs against the live objects.
    Secret values are masked.

    \b
    Examples:
      gitops-push plan --env staging
      gitops-push plan --path k8s/ --offline
      gitops-push plan --env production --detailed-exitcode -o json
    """
    _run("plan", options, show_diff=True, pending_exit_code=10 if detailed_exitcode else None)


@main.command()
@_common()
@_deploy_options
@click.option("--dry-run", is_flag=True, help="Stop after the server-side dry-run: no writes, no tag.")
@click.option(
    "--all",
    "all_objects",
    is_flag=True,
    help="Apply every object under the paths, not only the changed ones (repairs drift; takes over fields).",
)
def deploy(dry_run: bool, show_diff: bool, **options: Any) -> None:
    """Deploy what changed since the environment's last deploy tag, then tag the deployed commit.

    Validates the changed objects, server-side dry-runs all of them (if any is rejected, nothing is
    applied), applies them with server-side apply in a safe order (Namespaces, CRDs, cluster-wide
    objects, configuration, workloads, the rest), waits until they are healthy, prunes objects Git
    deleted that belong to this environment, and records the deploy as an annotated tag.

    \b
    Examples:
      gitops-push deploy --env production
      gitops-push deploy --path k8s/ --namespace shop --dry-run
      gitops-push deploy --env staging --timeout 10m --rollback-on-failure
      gitops-push deploy --env staging --all        # repair drift
    """
    _run("dry-run" if dry_run else "deploy", options, show_diff=show_diff)


@main.command()
@_common(revisions=False)
@_deploy_options
@click.option(
    "--to", "target_tag", metavar="TAG", help="Deploy tag to return to (default: the one before the last)."
)
def rollback(target_tag: str | None, show_diff: bool, **options: Any) -> None:
    """Deploy the state of an earlier deploy tag, and record it as a new (rollback) deploy.

    Runs the whole pipeline (validation, dry-run, apply, wait, prune) from the environment's current
    deployed commit to the commit of TAG. The new tag's metadata marks it as a rollback and names the
    tag rolled back to.

    \b
    Examples:
      gitops-push rollback --env production
      gitops-push rollback --env production --to deployed/production/20261129T101500Z
    """
    _run("deploy", options, show_diff=show_diff, runner="rollback", target_tag=target_tag)


@main.command()
@_common(revisions=False, environment=False)
@_deploy_options
@click.option("--from", "source", required=True, metavar="ENV", help="The environment to promote from.")
@click.option("--to", "environment", required=True, metavar="ENV", help="The environment to promote to.")
def promote(source: str, show_diff: bool, **options: Any) -> None:
    """Deploy to the --to environment exactly the commit last deployed (and healthy) in --from.

    A change goes through dev and staging before it reaches production: the target environment gets
    the source's last deployed commit through the same pipeline, and its tag records the promotion.

    \b
    Examples:
      gitops-push promote --from staging --to production
    """
    _run("deploy", options, show_diff=show_diff, runner="promote", source=source)


@main.command(name="status")
@_common(revisions=False)
@click.option(
    "--exit-code", "exit_code", is_flag=True, help="Exit 1 when there is drift (for scheduled checks)."
)
def status(exit_code: bool, **options: Any) -> None:
    """Compare the live objects with the last deployed tag and list what drifted.

    Every object under the paths at the last deploy tag is server-side dry-run against the cluster
    (managed fields ignored): objects edited by hand are "drifted", deleted ones "missing", and
    objects labelled as members of the environment that Git no longer has are "not in Git".
    `deploy --all` repairs drift. Also available as `gitops-push drift`.

    \b
    Examples:
      gitops-push status --env production
      gitops-push status --env production --exit-code -o json
    """
    _run("status", options, show_diff=True, pending_exit_code=1 if exit_code else None)


drift = copy.copy(status)
drift.hidden = True  # an alias: `status` documents it
main.add_command(drift, name="drift")


@main.command()
@click.option("--env", "environment", metavar="NAME", help="Environment name (default: default).")
@click.option(
    "--tag-prefix", metavar="PREFIX", help="Deploy tags live under PREFIX/ (default: deployed/ENV)."
)
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="How many deploys.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    show_default=True,
    help="Any folder inside the Git repository.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too).")
def history(
    environment: str | None, tag_prefix: str | None, limit: int, repo: Path, output: str, no_color: bool
) -> None:
    """List an environment's deploys, newest first, from its deploy tags.

    Shows when, which commit (and its subject), who or which pipeline, the counts of objects
    created, updated and pruned, and which deploys were rollbacks or promotions.

    \b
    Examples:
      gitops-push history --env production --limit 5
      gitops-push history --env production -o json
    """
    from gitops_push import pipeline
    from gitops_push.reporters import history as history_report

    try:
        deploys = pipeline.history(repo, environment=environment, tag_prefix=tag_prefix, limit=limit)
    except GitopsPushError as exc:
        _fail(exc)
    history_report.render(deploys, output=output, no_color=no_color)


@main.command()
@click.option("--env", "environment", required=True, metavar="NAME", help="The environment to unlock.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file (default: $KUBECONFIG).")
@click.option("--context", metavar="NAME", help="Kubeconfig context.")
def unlock(environment: str, kubeconfig: str | None, context: str | None) -> None:
    """Break an environment's deploy lock, saying whose lock it was.

    Use it when a deploy was killed and you do not want to wait for its lock to expire (it does so on
    its own a minute after its last renewal). Breaking the lock of a deploy that still runs lets
    another deploy interleave with it.

    \b
    Examples:
      gitops-push unlock --env production
    """
    from gitops_push import pipeline
    from gitops_push.reporters.safe import printable

    try:
        click.echo(printable(pipeline.unlock(kubeconfig, context, environment)))
    except GitopsPushError as exc:
        _fail(exc)
