"""Rendered sources in a run: the environment's `kustomize:` and `helm:` entries as rendering sources,
their tools found once at the start (`tools`), and what they render on each side of the range
(`sides`), which `preparing.load` hands to `loading.load` beside the plain files.
"""

from __future__ import annotations

from gitops_push import kinds, settings
from gitops_push.events import EventSink, RenderersFound
from gitops_push.model import HookRun, Manifest, ObjectRef, Range
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


def tools(env: Environment, sink: EventSink) -> rendering.Tools:
    """The renderers the environment needs, looked for once: a missing one fails the run (exit 2)
    before any request is sent. Their versions go to the reporters."""
    found = rendering.find_tools(sources(env))
    if found.versions():
        sink.handle(RenderersFound(found.versions()))
    return found


def read_paths(env: Environment) -> tuple[str, ...]:
    """Every path the environment reads: plain folders, kustomizations, charts and values files."""
    charts = tuple(path for chart in env.helm for path in (chart.chart, *chart.values))
    return (*env.paths, *env.kustomize, *charts)


def sides(context: Context, span: Range, *, full: bool) -> loading.RenderedSides:
    """What each source renders at the base and at head. A full run takes head's rendering alone; a
    source whose inputs the range leaves alone is not rendered at all, since it cannot change."""
    wanted: list[tuple[str, rendering.Source]] = []
    for source in sources(context.settings.environment):
        base = None if full else span.base
        if base is not None and _unchanged(context, source, base, span.head):
            continue
        if base is not None and rendering.exists_at(context.repo, base, source):
            wanted.append((base, source))
        wanted.append((span.head, source))
    # Every rendering at once: on a cold cache the tools of both sides run side by side.
    renderings = rendering.render_all(
        context.repo, wanted, tools=context.tools, cache_dir=settings.cache_dir()
    )
    old: list[loading.Rendered] = []
    new: list[loading.Rendered] = []
    texts: dict[str, str] = {}
    for result in renderings:
        if result.commit != span.head:
            old += _objects(result)
            continue
        new += _objects(result)
        texts.update(result.texts)  # only head's objects are validated: their lines count in head's texts
    return loading.RenderedSides(old=old, new=new, texts=texts)


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


def hooks(context: Context, span: Range, *, full: bool) -> tuple[HookRun, ...]:
    """The Helm hooks this deploy runs: those of the sources it renders (a source the range leaves
    alone runs none). Install phases on the environment's first deploy, upgrade phases after."""
    first = span.base is None
    pre = rendering.HookPhase.PRE_INSTALL if first else rendering.HookPhase.PRE_UPGRADE
    post = rendering.HookPhase.POST_INSTALL if first else rendering.HookPhase.POST_UPGRADE
    runs: list[HookRun] = []
    for source in sources(context.settings.environment):
        if not isinstance(source, rendering.HelmSource):
            continue
        if not full and span.base is not None and _unchanged(context, source, span.base, span.head):
            continue
        result = _render(context, span.head, source)
        runs += [_hook_run(o, source.namespace, pre=True) for o in result.hooks(pre)]
        runs += [_hook_run(o, source.namespace, pre=False) for o in result.hooks(post)]
    return tuple(runs)


def _hook_run(hook: rendering.RenderedObject, namespace: str, *, pre: bool) -> HookRun:
    body = dict(hook.body)
    metadata = dict(body.get("metadata") or {})
    metadata.setdefault("namespace", namespace)  # hooks are namespaced objects: Jobs, Pods
    body["metadata"] = metadata
    api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
    group = kinds.split_api_version(api_version)[0]
    ref = ObjectRef(group, kind, str(metadata["namespace"]), str(metadata.get("name", "")))
    assert hook.hook is not None
    policies = hook.hook.delete_policies
    return HookRun(
        manifest=Manifest(ref=ref, api_version=api_version, body=body, source=hook.origin),
        pre=pre,
        weight=hook.hook.weight,
        delete_before=rendering.DeletePolicy.BEFORE_HOOK_CREATION in policies or not policies,
        delete_succeeded=rendering.DeletePolicy.HOOK_SUCCEEDED in policies,
        delete_failed=rendering.DeletePolicy.HOOK_FAILED in policies,
    )
