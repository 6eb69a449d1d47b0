"""The line of a field in a manifest's file, for validating's findings: `gitops_push.fieldlines`, which
the dry-run's rejections use too."""

from __future__ import annotations

from gitops_push.fieldlines import BUILT_FIELD_CHANGED, Lines

__all__ = ["BUILT_FIELD_CHANGED", "Lines"]
