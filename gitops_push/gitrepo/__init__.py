"""The only package that talks to Git (through GitPython); stages use `GitRepo`, never `git.Repo`.

Revisions are always read from Git objects, never from the working tree, so a dirty checkout cannot
leak into a deploy. Listing and diffing ask Git for tree differences in one call each, and blobs are
read through one long-lived `git cat-file --batch` process, so the cost follows the change.
"""

from gitops_push.gitrepo.repo import DeployTag, FileDiff, GitEntry, GitFile, GitRepo, open_repo

__all__ = ["DeployTag", "FileDiff", "GitEntry", "GitFile", "GitRepo", "open_repo"]
