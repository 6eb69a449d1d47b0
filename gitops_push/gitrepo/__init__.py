"""The only package that talks to Git; stages use `GitRepo`, never `git` or GitPython.

Revisions are always read from Git objects, never from the working tree, so a dirty checkout cannot
leak into a deploy. Listing and diffing ask Git for tree differences in one call each, and the blobs
of a change are read by one `git cat-file --batch`, so the cost follows the change. Commands run as
`git` processes; GitPython, slow to import, reads the commits `history` lists.
"""

from gitops_push.gitrepo.repo import DeployTag, FileDiff, GitEntry, GitFile, GitRepo, open_repo

__all__ = ["DeployTag", "FileDiff", "GitEntry", "GitFile", "GitRepo", "open_repo"]
