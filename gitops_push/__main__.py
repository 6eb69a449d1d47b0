"""`python -m gitops_push` runs the command line."""

from gitops_push.cli import entry

entry()
