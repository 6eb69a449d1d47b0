"""Rendered sources in a run: the environment's `kustomize:` and `helm:` entries as rendering sources,
their tools found once at the start (`tools`), and what they render on each side of the range
(`sides`), which `preparing.load` hands to `loading.load` beside the plain files.
"""

from __future__ import annotations

from gitops_push import settings
from gitops_push.model import Range
from gitops_push.pipeline.runner import Context
from gitops_push.settings import Environment
from gitops_push.stages import loading, rendering


def sources(env: Environment) -> tuple[rendering.Source, ...]:
    """The environment's rendered sources, in the order gitops-push.yaml lists them."""
    folders = tuple(rendering.KustomizeSource(path) for path in env.kustomize)
    charts = tuple(
        rendering.HelmSource(
            chart=chart.chart,
            release=chart.release,
            namespace=chart.namespace,
            values=chart.values,
            set_values=chart.set_values,
        )
        for chart in env.helm
    )
    return (*folders, *charts)


def tools(env: Environment) -> rendering.Tools:
    """The renderers the environment needs, looked for once: a missing one fails the run (exit 2)
    before any request is sent."""
    return rendering.find_tools(sources(env))


def sides(context: Context, span: Range, *, full: bool) -> loading.RenderedSides:
    """What each source renders at the base and at head. A full run takes head's rendering alone; a
    source whose inputs the range leaves alone is not rendered at all, since it cannot change."""
    old: list[loading.Rendered] = []
    new: list[loading.Rendered] = []
    for source in sources(context.settings.environment):
        base = None if full else span.base
        if base is not None and _unchanged(context, source, base, span.head):
            continue
        if base is not None and rendering.exists_at(context.repo, base, source):
            old += _objects(_render(context, base, source))
        new += _objects(_render(context, span.head, source))
    return loading.RenderedSides(old=old, new=new)


def _unchanged(context: Context, source: rendering.Source, base: str, head: str) -> bool:
    repo = context.repo
    if not rendering.exists_at(repo, base, source):
        return False
    return rendering.render_inputs(repo, base, source) == rendering.render_inputs(repo, head, source)


def _render(context: Context, commit: str, source: rendering.Source) -> rendering.Rendering:
    return rendering.render(context.repo, commit, source, tools=context.tools, cache_dir=settings.cache_dir())


def _objects(result: rendering.Rendering) -> list[loading.Rendered]:
    # Hooks run as steps of their own, never as members of the environment (they are not pruned).
    namespace = result.default_namespace
    return [loading.Rendered(o.body, o.origin, namespace) for o in result.plain]
