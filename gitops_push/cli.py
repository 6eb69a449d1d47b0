"""The command line: parse flags into a typed `Flags`, run the pipeline, exit with the Summary's code.

Nothing else lives here. Every option is declared once in `OPTIONS` and composed into the commands
that take it; its default comes from `settings.Flags`. Heavy modules (the Kubernetes client,
GitPython, jsonschema) are imported inside the commands that need them, so `--help` starts fast.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import dataclasses
import gc
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from gitops_push import __version__, cancelling
from gitops_push.errors import ExitCode, GitopsPushError
from gitops_push.settings import Flags, Mode

DEFAULTS = Flags()
EXIT_CODES_HELP = "\b\nExit codes:\n" + "".join(f"  {int(code):<3} {code.meaning}\n" for code in ExitCode)


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


def _seconds(value: float) -> str:
    """A default duration as the help shows it: 300.0 -> 5m."""
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


_REPO = click.Path(file_okay=False, exists=True, path_type=Path)
Decorator = Callable[[Callable[..., None]], Callable[..., None]]

# Every option of every command, declared once; the destination is the `Flags` field it fills.
OPTIONS: dict[str, Decorator] = {
    "env": click.option("--env", "environment", metavar="NAME", help="Environment name (default: default)."),
    "path": click.option(
        "--path",
        "paths",
        multiple=True,
        metavar="PATH",
        help="Folder or file of manifests, relative to the repository root; repeatable.",
    ),
    "namespace": click.option(
        "--namespace", metavar="NS", help="Namespace for namespaced objects that name none."
    ),
    "tag-prefix": click.option(
        "--tag-prefix", metavar="PREFIX", help="Deploy tags live under PREFIX/ (default: deployed/ENV)."
    ),
    "kubeconfig": click.option(
        "--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file (default: $KUBECONFIG)."
    ),
    "context": click.option("--context", metavar="NAME", help="Kubeconfig context."),
    "repo": click.option(
        "--repo",
        type=_REPO,
        default=DEFAULTS.repo,
        show_default=True,
        help="Any folder inside the Git repository.",
    ),
    "concurrency": click.option(
        "--concurrency",
        type=click.IntRange(1, 64),
        default=DEFAULTS.concurrency,
        help="Parallel requests to the API server, at most. Default: from 16 on loopback, more the "
        "longer the measured round trip (36 at 20 ms), up to 64.",
    ),
    "output": click.option(
        "-o",
        "--output",
        type=click.Choice(["text", "json", "github"]),
        default=DEFAULTS.output,
        help="text for people (default); json for machines (one document on stdout); github for "
        "workflow annotations and a job summary (default inside GitHub Actions).",
    ),
    "junit": click.option(
        "--junit",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Also write a JUnit XML report (Jenkins, GitLab).",
    ),
    "no-color": click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
    "verbose": click.option(
        "-v",
        "--verbose",
        count=True,
        help="Also list unchanged objects, the deploy's steps and every health change.",
    ),
    "quiet": click.option("-q", "--quiet", is_flag=True, help="Only errors and the final line."),
    "request-timeout": click.option(
        "--request-timeout",
        type=Duration(),
        default=_seconds(DEFAULTS.request_timeout),
        show_default=True,
        help="Give up on one API request after this long (it is retried if it can be).",
    ),
    "retry-timeout": click.option(
        "--retry-timeout",
        type=Duration(),
        default=_seconds(DEFAULTS.retry_timeout),
        show_default=True,
        help="Retry a read or an apply on 429 and 5xx answers for at most this long.",
    ),
    "unreachable-timeout": click.option(
        "--unreachable-timeout",
        type=Duration(),
        default=_seconds(DEFAULTS.unreachable_timeout),
        show_default=True,
        help="Stop the run when the API server has not answered at all for this long.",
    ),
    "to": click.option(
        "--to", "to", default=DEFAULTS.to, show_default=True, metavar="REV", help="The commit to deploy."
    ),
    "from": click.option(
        "--from", "from_rev", metavar="REV", help="Compare with REV instead of the last deploy tag."
    ),
    "force-conflicts": click.option(
        "--force-conflicts", is_flag=True, help="Take over fields that another field manager owns."
    ),
    "adopt": click.option(
        "--adopt",
        is_flag=True,
        help="Take over objects that exist but were not created by this environment (refused otherwise).",
    ),
    "prune-adopted": click.option(
        "--prune-adopted",
        is_flag=True,
        help="Delete adopted objects that Git removed (by default they are released, not deleted).",
    ),
    "prune": click.option(
        "--prune/--no-prune", default=DEFAULTS.prune, show_default=True, help="Delete objects Git removed."
    ),
    "replace-immutable": click.option(
        "--replace-immutable",
        is_flag=True,
        help="Delete and recreate objects whose immutable fields change (a Job's template, a selector...).",
    ),
    "allow-empty": click.option(
        "--allow-empty", is_flag=True, help="Allow a deploy that leaves the environment empty."
    ),
    "max-prune": click.option(
        "--max-prune",
        type=click.IntRange(0),
        default=DEFAULTS.max_prune,
        show_default=True,
        help="Refuse a deploy that would prune more objects than this (plan lists them, then exits 2).",
    ),
    "push": click.option(
        "--push/--no-push",
        default=DEFAULTS.push,
        help="Push the deploy tag (default: when there is a remote).",
    ),
    "wait": click.option(
        "--wait/--no-wait",
        default=DEFAULTS.wait,
        show_default=True,
        help="Wait until what changed is healthy.",
    ),
    "timeout": click.option(
        "--timeout",
        type=Duration(),
        default=_seconds(DEFAULTS.timeout),
        show_default=True,
        help="How long to wait for health, in all (90s, 5m, 1h).",
    ),
    "rollback-on-failure": click.option(
        "--rollback-on-failure",
        is_flag=True,
        help="If apply or wait fails, return the environment to its last deployed tag.",
    ),
    "lock-timeout": click.option(
        "--lock-timeout",
        type=Duration(),
        default=_seconds(DEFAULTS.lock_timeout),
        show_default=True,
        help="How long to wait for another deploy of the environment to finish.",
    ),
    "diff": click.option("--diff", "show_diff", is_flag=True, help="Print the diff of every change."),
    "offline": click.option(
        "--offline", is_flag=True, help="No cluster: validate with bundled schemas, diff Git against Git."
    ),
    "detailed-exitcode": click.option(
        "--detailed-exitcode",
        is_flag=True,
        help=f"Exit {int(ExitCode.CHANGES_PENDING)} when changes are pending, 0 when there are none.",
    ),
    "allow-older": click.option(
        "--allow-older",
        is_flag=True,
        help="Deploy a commit older than the last deployed one (moves the environment back; see also rollback).",
    ),
    "force": click.option(
        "--force",
        is_flag=True,
        help="Deploy a commit that does not descend from the last deployed one (a rewritten branch).",
    ),
    "dry-run": click.option(
        "--dry-run", is_flag=True, help="Stop after the server-side dry-run: no writes, no tag."
    ),
    "limit": click.option(
        "--limit", type=click.IntRange(1), default=DEFAULTS.limit, show_default=True, help="How many deploys."
    ),
}

# Option groups that several commands share.
REPORTING = ("output", "junit", "no-color", "verbose", "quiet")
CLUSTER = ("kubeconfig", "context", "concurrency", "request-timeout", "retry-timeout", "unreachable-timeout")
ENVIRONMENT = ("path", "namespace", "tag-prefix", "repo")
WRITES = (
    "force-conflicts",
    "adopt",
    "prune-adopted",
    "prune",
    "replace-immutable",
    "allow-empty",
    "max-prune",
    "push",
    "wait",
    "timeout",
    "rollback-on-failure",
    "lock-timeout",
    "diff",
)


def options(*names: str) -> Decorator:
    """Compose the named options, in the order given, into a command."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        for name in reversed(names):
            function = OPTIONS[name](function)
        return function

    return decorate


def flags_of(values: dict[str, Any], **fixed: Any) -> Flags:
    """The typed Flags from click's values (each option's destination is a Flags field)."""
    known = {f.name for f in dataclasses.fields(Flags)}
    given = {name: value for name, value in {**values, **fixed}.items() if name in known}
    if "paths" in given:
        given["paths"] = tuple(given["paths"])
    if given.get("quiet") and given.get("verbose"):
        raise click.UsageError("-q/--quiet and -v/--verbose exclude each other")
    return Flags(**given)


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


def entry(args: list[str] | None = None, prog_name: str | None = None) -> None:
    """The console script and `python -m gitops_push`: the command line, then a quick exit.

    When a command ends, what it built is still alive (the events the reporters keep hold the
    manifests of the plan; the clients and every module too). Freeing it all, then the full cycle
    collection Python ends with, took longer than some commands' work: 0.07 s after `plan --all`
    of 10,000 objects, 0.2 s after a deploy of 500. Once the command's reporters are closed,
    nothing of ours waits for that (files, pipes, processes and connections are closed where they
    are used): the exit handlers run, the output is flushed, and the process ends. Where that
    cannot be done safely (another thread still alive, an output that cannot be flushed), the
    interpreter exits as usual, but with what the run built out of the collector's sight.
    """
    atexit.register(gc.freeze)  # registered before any command's own: the last handler to run
    try:
        main(args=args, prog_name=prog_name)
    except SystemExit as done:
        # Here, inside the handler, the exception's frames still hold the run's objects: exiting
        # now is what spares freeing them.
        _exit_now(done.code)
        raise


def _exit_now(code: object) -> None:
    """End the process with `code` as the interpreter would, minus its freeing and collecting;
    returns (nothing done) where the interpreter's own exit is needed."""
    if threading.active_count() > 1 or not (code is None or isinstance(code, int)):
        return  # a thread would be cut short; a message exit code is the interpreter's to print
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # a closed pipe or stream: the interpreter reports it as ever
    atexit._run_exitfuncs()  # kubeconfig's temporary certificate files are removed there
    atexit._clear()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code or 0)


Run = Callable[[Any, cancelling.Cancellation], None]


def _report(flags: Flags, run: Run, *, pending: ExitCode | None = None) -> NoReturn:
    """Build the reporters, run the pipeline into them, exit with the code the Summary gives.

    SIGTERM and SIGINT cancel the run rather than kill it, until the reporters are closed: a CI job
    cancelled by SIGTERM still gets its JUnit file, and the lock is released."""
    from gitops_push import reporters

    sink = reporters.build(
        flags.output,
        show_diff=flags.show_diff,
        verbose=flags.verbose,
        quiet=flags.quiet,
        no_color=flags.no_color,
        pending_exit_code=None if pending is None else int(pending),
        junit=flags.junit,
    )
    with cancelling.on_signals(cancelling.Cancellation()) as cancellation:
        run(sink, cancellation)
        summary = sink.close()
    sys.exit(int(summary.exit_code))


def _fail(exc: GitopsPushError) -> NoReturn:
    """For the commands that print no event stream (history, unlock): the error, its hint, its code."""
    from gitops_push.reporters.safe import printable  # names and Git's words: no escapes reach a terminal

    click.echo(f"error: {printable(exc)}", err=True)
    if exc.hint:
        click.echo(f"hint: {printable(exc.hint)}", err=True)
    sys.exit(int(exc.exit_code))


@main.command()
@options(
    "env",
    *ENVIRONMENT,
    *CLUSTER,
    *REPORTING,
    "to",
    "from",
    "allow-older",
    "force",
    "offline",
    "detailed-exitcode",
    "max-prune",
)
@click.option(
    "--all", "all_objects", is_flag=True, help="Plan every object under the paths, not just what changed."
)
def plan(**values: Any) -> None:
    """Show what a deploy would do, object by object, with diffs; change nothing.

    Compares the last deploy tag of the environment with --to, validates the changed objects and,
    when the cluster is reachable, server-side dry-runs them and diffs against the live objects.
    Secret values are masked. With -v, also the steps a deploy of this plan would take.

    \b
    Examples:
      gitops-push plan --env staging
      gitops-push plan --path k8s/ --offline
      gitops-push plan --env production --detailed-exitcode -o json
    """
    from gitops_push import pipeline

    flags = flags_of(values, show_diff=True)
    pending = ExitCode.CHANGES_PENDING if flags.detailed_exitcode else None
    _report(flags, lambda sink, cancel: pipeline.run(Mode.PLAN, flags, sink, cancel), pending=pending)


@main.command()
@options("env", *ENVIRONMENT, *CLUSTER, *REPORTING, "to", "from", "allow-older", "force", *WRITES, "dry-run")
@click.option(
    "--all",
    "all_objects",
    is_flag=True,
    help="Apply every object under the paths, not only the changed ones (repairs drift; takes over fields).",
)
def deploy(**values: Any) -> None:
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
    from gitops_push import pipeline

    flags = flags_of(values)
    mode = Mode.DRY_RUN if flags.dry_run else Mode.DEPLOY
    _report(flags, lambda sink, cancel: pipeline.run(mode, flags, sink, cancel))


@main.command()
@options("env", *ENVIRONMENT, *CLUSTER, *REPORTING, *WRITES, "dry-run")
@click.option(
    "--to", "target_tag", metavar="TAG", help="Deploy tag to return to (default: the one before the last)."
)
def rollback(**values: Any) -> None:
    """Deploy the state of an earlier deploy tag, and record it as a new (rollback) deploy.

    Runs the whole pipeline (validation, dry-run, apply, wait, prune) from the environment's current
    deployed commit to the commit of TAG. The new tag's metadata marks it as a rollback and names the
    tag rolled back to.

    \b
    Examples:
      gitops-push rollback --env production --dry-run      # the plan, with diffs
      gitops-push rollback --env production
      gitops-push rollback --env production --to deployed/production/20261129T101500Z
    """
    from gitops_push import pipeline

    flags = flags_of(values, show_diff=values["show_diff"] or values["dry_run"])  # a preview shows its diffs
    _report(flags, lambda sink, cancel: pipeline.rollback(flags, sink, cancel))


@main.command()
@options(*ENVIRONMENT, *CLUSTER, *REPORTING, *WRITES, "dry-run")
@click.option("--from", "source", required=True, metavar="ENV", help="The environment to promote from.")
@click.option("--to", "environment", required=True, metavar="ENV", help="The environment to promote to.")
def promote(**values: Any) -> None:
    """Deploy to the --to environment exactly the commit last deployed (and healthy) in --from.

    A change goes through dev and staging before it reaches production: the target environment gets
    the source's last deployed commit through the same pipeline, and its tag records the promotion.
    The source's cluster (its `context:`) must record that commit as deployed, or nothing is done.

    \b
    Examples:
      gitops-push promote --from staging --to production --dry-run
      gitops-push promote --from staging --to production
    """
    from gitops_push import pipeline

    if values["source"] == values["environment"]:
        raise click.UsageError("--from and --to name the same environment: there is nothing to promote")
    flags = flags_of(values, show_diff=values["show_diff"] or values["dry_run"])  # a preview shows its diffs
    _report(flags, lambda sink, cancel: pipeline.promote(flags, sink, cancel))


@main.command(name="status")
@options("env", *ENVIRONMENT, *CLUSTER, *REPORTING)
@click.option(
    "--exit-code",
    "exit_code",
    is_flag=True,
    help=f"Exit {int(ExitCode.DRIFT)} when there is drift (for scheduled checks); 1 stays a failure.",
)
def status(**values: Any) -> None:
    """Compare the live objects with the last deployed tag and list what drifted.

    Every object under the paths at the last deploy tag is server-side dry-run against the cluster
    (managed fields ignored): objects edited by hand are "drifted", deleted ones "missing", and
    objects labelled as members of the environment that Git no longer has are "not in Git" ("extra"
    in JSON). Fields that other field managers added to our objects are listed apart, with the
    manager's name. `deploy --all` repairs drift. Also available as `gitops-push drift`.

    \b
    Examples:
      gitops-push status --env production
      gitops-push status --env production --exit-code -o json
    """
    from gitops_push import pipeline

    flags = flags_of(values, show_diff=True)
    pending = ExitCode.DRIFT if flags.exit_code else None
    _report(flags, lambda sink, cancel: pipeline.run(Mode.STATUS, flags, sink, cancel), pending=pending)


drift = copy.copy(status)
drift.hidden = True  # an alias: `status` documents it
main.add_command(drift, name="drift")


@main.command()
@options("env", "tag-prefix", "limit", "repo", "output", "no-color")
def history(**values: Any) -> None:
    """List an environment's deploys, newest first, from its deploy tags.

    Shows when, which commit (and its subject), who or which pipeline, the counts of objects
    created, updated and pruned, and which deploys were rollbacks or promotions. Only tags that
    count are listed (on the environment's branch, not dated in the future); the others are named,
    with the reason, on standard error.

    \b
    Examples:
      gitops-push history --env production --limit 5
      gitops-push history --env production -o json
    """
    from gitops_push import pipeline
    from gitops_push.reporters import history as history_report

    flags = flags_of(values)
    try:
        deploys, notes = pipeline.history(flags)
    except GitopsPushError as exc:
        _fail(exc)
    for note in notes:  # on stderr, so that -o json stays one document
        click.echo(f"note: {note}", err=True)
    history_report.render(deploys, output=flags.output or "text", no_color=flags.no_color)


@main.command()
@click.option("--env", "environment", required=True, metavar="NAME", help="The environment to unlock.")
@options("kubeconfig", "context", "repo")
def unlock(**values: Any) -> None:
    """Break an environment's deploy lock, saying whose lock it was.

    Use it when a deploy was killed and you do not want to wait for its lock to expire (it does so on
    its own a minute after its last renewal). Breaking the lock of a deploy that still runs lets
    another deploy interleave with it. The cluster is the environment's `context:` in
    gitops-push.yaml unless --context names another.

    \b
    Examples:
      gitops-push unlock --env production
    """
    from gitops_push import pipeline
    from gitops_push.reporters.safe import printable

    try:
        click.echo(printable(pipeline.unlock(flags_of(values))))
    except GitopsPushError as exc:
        _fail(exc)
