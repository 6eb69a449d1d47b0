"""The command line: parse flags into Settings, run the pipeline, turn the Summary into an exit code.

Nothing else lives here. Heavy modules (the Kubernetes client, GitPython, jsonschema) are imported
inside the commands that need them, so `gitops-push --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gitops_push import __version__

EXIT_CODES_HELP = """\b
Exit codes:
  0   success (also: nothing to deploy)
  1   apply, prune or wait failed; cluster unreachable
  2   usage, configuration or Git state error
  3   validation failed: nothing was applied
  4   server-side dry-run rejected a change: nothing was applied
  5   another deploy tagged first, or holds the lock
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


def _common(function: Callable[..., None]) -> Callable[..., None]:
    """The options every pipeline command shares (flags override gitops-push.yaml)."""
    options = [
        click.option("--env", "environment", metavar="NAME", help="Environment name (default: default)."),
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
            "--to", "to", default="HEAD", show_default=True, metavar="REV", help="The commit to deploy."
        ),
        click.option(
            "--from", "from_rev", metavar="REV", help="Compare with REV instead of the last deploy tag."
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
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="text for people; json for machines (one document on stdout).",
        ),
        click.option("--no-color", is_flag=True, help="No colours (NO_COLOR is honoured too)."),
        click.option("-v", "--verbose", count=True, help="Also list unchanged objects."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _run(
    mode_name: str, output: str, no_color: bool, verbose: int, detailed: bool, show_diff: bool, **options: Any
) -> None:
    from gitops_push import pipeline, reporters
    from gitops_push.settings import Mode

    repo = options.pop("repo")
    sink = reporters.build(
        output, show_diff=show_diff, verbose=verbose, no_color=no_color, detailed_exitcode=detailed
    )
    pipeline.run(Mode(mode_name), repo, options, sink)
    summary = sink.close()
    sys.exit(int(summary.exit_code))


@main.command()
@_common
@click.option(
    "--offline", is_flag=True, help="No cluster: validate with bundled schemas, diff Git against Git."
)
@click.option(
    "--all", "all_objects", is_flag=True, help="Plan every object under the paths, not just what changed."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 10 when changes are pending, 0 when there are none."
)
def plan(output: str, no_color: bool, verbose: int, detailed_exitcode: bool, **options: Any) -> None:
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
    _run("plan", output, no_color, verbose, detailed_exitcode, True, **options)


@main.command()
@_common
@click.option("--dry-run", is_flag=True, help="Stop after the server-side dry-run: no writes, no tag.")
@click.option("--force-conflicts", is_flag=True, help="Take over fields that another field manager owns.")
@click.option("--prune/--no-prune", default=True, show_default=True, help="Delete objects Git removed.")
@click.option(
    "--allow-empty", is_flag=True, help="Allow a deploy that leaves the environment with no objects."
)
@click.option("--push/--no-push", default=None, help="Push the deploy tag (default: when there is a remote).")
@click.option("--diff", "show_diff", is_flag=True, help="Print the diff of every change.")
def deploy(output: str, no_color: bool, verbose: int, dry_run: bool, show_diff: bool, **options: Any) -> None:
    """Deploy what changed since the environment's last deploy tag, then tag the deployed commit.

    Validates the changed objects, server-side dry-runs all of them (if any is rejected, nothing is
    applied), applies them with server-side apply in a safe order (Namespaces, CRDs, cluster-wide
    objects, configuration, workloads, the rest), prunes objects Git deleted that belong to this
    environment, and records the deploy as an annotated tag.

    \b
    Examples:
      gitops-push deploy --env production
      gitops-push deploy --path k8s/ --namespace shop --dry-run
      gitops-push deploy --env staging --no-push -o json
    """
    _run("dry-run" if dry_run else "deploy", output, no_color, verbose, False, show_diff, **options)
