"""The step builder: the order of a run as data, pure, for every mode."""

from __future__ import annotations

from dataclasses import replace

from gitops_push.kinds import Wave
from gitops_push.model import Change, HookRun, Manifest, ObjectRef, Op, Plan, Range, SourceLocation
from gitops_push.pipeline import steps
from gitops_push.pipeline.steps import Mode, Options


def change(op: Op, group: str, kind: str, namespace: str | None, name: str) -> Change:
    ref = ObjectRef(group, kind, namespace, name)
    api = f"{group}/v1" if group else "v1"
    manifest = Manifest(ref, api, {"metadata": {"name": name}}, SourceLocation("k8s/a.yaml", 1))
    return Change(
        op, ref, manifest if op is not Op.DELETE else None, manifest if op is not Op.CREATE else None
    )


NAMESPACE = change(Op.CREATE, "", "Namespace", None, "shop")
CONFIG = change(Op.UPDATE, "", "ConfigMap", "shop", "settings")
WEB = change(Op.CREATE, "apps", "Deployment", "shop", "web")
LEGACY = change(Op.DELETE, "", "Service", "shop", "legacy")
PLAN = Plan(
    range=Range("a" * 40, "b" * 40),
    apply_waves=((NAMESPACE,), (CONFIG,), (WEB,)),
    prune_waves=((LEGACY,),),
)


def names(built: tuple[steps.Step, ...]) -> list[str]:
    return [steps.view(step).text for step in built]


def test_a_deploy_in_order() -> None:
    assert names(steps.build(Mode.DEPLOY, Options(), PLAN)) == [
        "lock",
        "read-record",
        "prepare",
        "dry-run",
        "review",
        "write-membership",
        "apply wave 1 (namespaces): 1 object",
        "wait-prerequisites wave 1 (namespaces)",
        "dry-run-deferred",  # what waited for the Namespace, of every later wave, before any is applied
        "apply wave 4 (config): 1 object",
        "apply wave 5 (workloads): 1 object",
        "wait-healthy: 2 objects",  # the Namespace and the Deployment have health rules; a ConfigMap not
        "prune wave 4 (config): 1 object",
        "write-record",
        "tag",
        "release",
    ]


def test_the_steps_before_the_review_do_not_depend_on_the_plan() -> None:
    for mode in Mode:
        for options in (Options(), Options(online=False), Options(wait=False)):
            head = steps.build(mode, options)
            assert steps.build(mode, options, PLAN)[: len(head)] == head


def test_plan_status_and_dry_run_never_write() -> None:
    for mode in (Mode.PLAN, Mode.STATUS, Mode.DRY_RUN):
        built = steps.build(mode, Options(), PLAN)
        assert names(built) == ["read-record", "prepare", "dry-run", "review"]
    assert steps.build(Mode.DEPLOY, Options(online=False), PLAN) == (steps.Prepare(), steps.Review())


def test_no_wait_drops_the_health_step_but_not_the_prerequisites() -> None:
    built = steps.build(Mode.DEPLOY, Options(wait=False), PLAN)
    assert steps.WaitHealthy(2) not in built
    assert steps.WaitPrerequisites(Wave.NAMESPACES) in built


def test_a_rollback_writes_without_lock_membership_review_or_tag() -> None:
    built = steps.build(Mode.ROLLBACK, Options(), PLAN)
    assert built[:3] == (
        steps.ApplyWave(Wave.NAMESPACES, 1),
        steps.WaitPrerequisites(Wave.NAMESPACES),
        steps.DryRunDeferred(),
    )
    assert built[-1] == steps.WriteRecord()
    assert not {steps.Lock(), steps.Release(), steps.Tag(), steps.WriteMembership(), steps.Review()} & set(
        built
    )


def test_an_empty_plan_still_records_and_tags() -> None:
    empty = Plan(range=Range("a" * 40, "b" * 40), apply_waves=(), prune_waves=())
    assert names(steps.build(Mode.DEPLOY, Options(), empty))[5:] == [
        "write-membership",
        "write-record",
        "tag",
        "release",
    ]


def test_deferred_objects_are_dry_run_once_after_the_last_wave_of_namespaces_and_crds() -> None:
    crd = change(Op.CREATE, "apiextensions.k8s.io", "CustomResourceDefinition", None, "widgets.example.com")
    widget = change(Op.CREATE, "example.com", "Widget", "shop", "w")
    with_crds = replace(PLAN, apply_waves=((NAMESPACE,), (crd,), (CONFIG,), (WEB,), (widget,)))
    built = names(steps.build(Mode.DEPLOY, Options(), with_crds))
    assert built.count("dry-run-deferred") == 1
    assert built.index("dry-run-deferred") == built.index("wait-prerequisites wave 2 (crds)") + 1
    assert built.index("dry-run-deferred") < built.index("apply wave 4 (config): 1 object")
    without = replace(PLAN, apply_waves=((CONFIG,), (WEB,)))  # nothing of this deploy to wait for
    assert "dry-run-deferred" not in names(steps.build(Mode.DEPLOY, Options(), without))


def test_views_carry_the_wave_and_the_count() -> None:
    view = steps.view(steps.ApplyWave(Wave.WORKLOADS, 3))
    assert (view.step, view.wave, view.objects, view.text) == (
        "apply",
        "workloads",
        3,
        "apply wave 5 (workloads): 3 objects",
    )
    assert steps.view(steps.Tag()).wave is None


def hook(name: str, *, pre: bool) -> HookRun:
    ref = ObjectRef("batch", "Job", "shop", name)
    body = {"metadata": {"name": name}}
    return HookRun(Manifest(ref, "batch/v1", body, SourceLocation("chart/templates/job.yaml", 1)), pre, 0)


def test_hooks_run_before_the_first_apply_and_after_health() -> None:
    hooked = replace(
        PLAN, hooks=(hook("migrate", pre=True), hook("smoke", pre=False), hook("notify", pre=False))
    )
    built = names(steps.build(Mode.DEPLOY, Options(), hooked))
    assert built.index("pre-hooks: 1 object") == built.index("write-membership") + 1
    assert built.index("pre-hooks: 1 object") < built.index("apply wave 1 (namespaces): 1 object")
    assert built.index("post-hooks: 2 objects") == built.index("wait-healthy: 2 objects") + 1
    assert built.index("post-hooks: 2 objects") < built.index("prune wave 4 (config): 1 object")


def test_no_hook_steps_without_hooks_or_when_rolling_back() -> None:
    hooked = replace(PLAN, hooks=(hook("migrate", pre=True), hook("smoke", pre=False)))
    assert not [n for n in names(steps.build(Mode.DEPLOY, Options(), PLAN)) if "hooks" in n]
    assert not [n for n in names(steps.build(Mode.ROLLBACK, Options(), hooked)) if "hooks" in n]
    assert not [n for n in names(steps.build(Mode.DRY_RUN, Options(), hooked)) if "hooks" in n]
