"""The command line: parse flags into Settings, run the pipeline, turn the Summary into an exit code.

Nothing else lives here. Heavy modules (the Kubernetes client, GitPython, jsonschema) are imported
inside the commands that need them, so `gitops-push --help` starts fast.
"""

from __future__ import annotations

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
