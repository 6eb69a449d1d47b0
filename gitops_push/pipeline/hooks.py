"""The steps that run Helm hooks of rendered sources: `PreHooks` before the first apply, `PostHooks`
after health. Each hook object is created in weight order and waited for (a Job until it completes),
with Helm's delete policies honoured; a hook that fails stops the deploy (exit 1) before any later
step, so no tag names a deploy whose hooks did not run.
"""

from __future__ import annotations

import time

from gitops_push.errors import HookFailed
from gitops_push.events import Note
from gitops_push.kube import Resource
from gitops_push.model import HookRun
from gitops_push.pipeline import steps
from gitops_push.pipeline.runner import Context, State, executes
from gitops_push.stages import waiting

GONE_TIMEOUT = 60.0  # seconds for the previous run's hook object to be deleted
GONE_POLL = 0.5


@executes(steps.PreHooks)
def pre_hooks(step: steps.PreHooks, context: Context, state: State) -> State:
    assert state.plan is not None
    run_hooks(context, state.plan.hooks_of(pre=True))
    return state


@executes(steps.PostHooks)
def post_hooks(step: steps.PostHooks, context: Context, state: State) -> State:
    assert state.plan is not None
    run_hooks(context, state.plan.hooks_of(pre=False))
    return state


def run_hooks(context: Context, hooks: tuple[HookRun, ...]) -> None:
    for hook in hooks:  # already in the order Helm runs them: one at a time
        context.cancellation.check()
        run_hook(context, hook)


def run_hook(context: Context, hook: HookRun) -> None:
    cluster, manifest = context.online, hook.manifest
    ref, when = manifest.ref, "pre" if hook.pre else "post"
    resource = cluster.resource(manifest.api_version, ref.kind)
    if resource is None:
        raise HookFailed(
            f"hook {ref}: the cluster has no kind {manifest.api_version} {ref.kind}", location=manifest.source
        )
    if hook.delete_before:
        _delete(context, resource, hook, wait=True)
    # Not labelled as a member of the environment's ApplySet: a hook is never pruned as one.
    cluster.apply(resource, manifest.body, field_manager=context.field_manager, dry_run=False, force=True)
    failures = waiting.wait_healthy(
        cluster,
        [manifest],
        timeout=context.settings.flags.timeout,
        sink=context.sink,
        sleep=context.cancellation.sleep,
    )
    if failures:
        if hook.delete_failed:
            _delete(context, resource, hook, wait=False)
        raise HookFailed(
            f"{when}-deploy hook {ref} failed: {failures[ref]}",
            location=manifest.source,
            hint="nothing after the hook ran and no tag was created; fix the hook and deploy again",
        )
    context.sink.handle(Note(f"{when}-deploy hook {ref} succeeded", manifest.source))
    if hook.delete_succeeded:
        _delete(context, resource, hook, wait=False)


def _delete(context: Context, resource: Resource, hook: HookRun, *, wait: bool) -> None:
    """Delete a hook object; with `wait`, until it is gone (a Job being deleted cannot be created again)."""
    cluster, ref = context.online, hook.manifest.ref
    if not cluster.delete(resource, ref.namespace, ref.name) or not wait:
        return
    deadline = time.monotonic() + GONE_TIMEOUT
    while cluster.get(resource, ref.namespace, ref.name) is not None:
        if time.monotonic() >= deadline:
            raise HookFailed(
                f"hook {ref}: the previous run's object was not deleted within {GONE_TIMEOUT:.0f}s"
            )
        context.cancellation.sleep(GONE_POLL)
