"""The deploy lock: one coordination.k8s.io Lease per environment, so two pipelines never interleave.

Taken before anything of a deploy is read or written (`Lock.acquire()`), released whatever happens.
The Lease `gitops-push-<env>` in namespace `default` names its holder (the CI run's identity and URL,
or user@host); a background thread renews it while the deploy works. A second deploy waits up to its lock timeout, saying who holds the lock, then fails with exit code 5. A lock
whose holder was killed expires after LEASE_SECONDS without renewal; `unlock()` breaks it on purpose.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitops_push import naming
from gitops_push.errors import ClusterUnreachable, LockHeld
from gitops_push.events import EventSink, Note
from gitops_push.kube import KubeApiError, Resource

if TYPE_CHECKING:
    from gitops_push.kube import Cluster

LEASES = Resource(group="coordination.k8s.io", version="v1", kind="Lease", plural="leases", namespaced=True)
LOCK_NAMESPACE = naming.RECORD_NAMESPACE
LEASE_SECONDS = 60
RENEW_SECONDS = 15.0
POLL_SECONDS = 2.0
REPORT_EVERY = 30.0
HOLDER_URL = "gitops-push.dev/holder-url"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def micro_time(moment: datetime.datetime) -> str:
    """The API's MicroTime format."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Holder:
    identity: str
    url: str = ""
    acquired: datetime.datetime | None = None
    renewed: datetime.datetime | None = None
    duration: int = LEASE_SECONDS

    def expired(self, at: datetime.datetime) -> bool:
        last = self.renewed or self.acquired
        return last is None or last + datetime.timedelta(seconds=self.duration) < at

    def describe(self) -> str:
        since = f" since {self.acquired:%Y-%m-%d %H:%M:%S} UTC" if self.acquired else ""
        return f"{self.identity}{since}" + (f" ({self.url})" if self.url else "")


def holder_of(lease: Mapping[str, Any]) -> Holder:
    spec = lease.get("spec") or {}
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    return Holder(
        identity=str(spec.get("holderIdentity") or "unknown"),
        url=str(annotations.get(HOLDER_URL) or ""),
        acquired=parse_time(spec.get("acquireTime")),
        renewed=parse_time(spec.get("renewTime")),
        duration=int(spec.get("leaseDurationSeconds") or LEASE_SECONDS),
    )


class Lock:
    """A held or wanted lock on one environment."""

    def __init__(self, cluster: Cluster, environment: str, identity: str, url: str = "") -> None:
        self._cluster = cluster
        self._name = naming.lease(environment)
        self._identity = f"{identity} pid {os.getpid()}"
        self._url = url
        self._version: str | None = None
        self._acquired = now()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(
        self,
        *,
        timeout: float,
        sink: EventSink,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Take the lock, waiting up to `timeout` seconds while someone else holds it."""
        deadline = clock() + timeout
        reported = -REPORT_EVERY
        while True:
            holder = self._try_take()
            if holder is None:
                self._start_renewing()
                return
            if clock() >= deadline:
                raise LockHeld(
                    f"the deploy lock of this environment is held by {holder.describe()}",
                    hint="wait for that deploy, or if it is dead and you are sure: gitops-push unlock --env NAME "
                    f"(an abandoned lock also expires {holder.duration} s after its last renewal)",
                )
            if clock() - reported >= REPORT_EVERY:
                sink.handle(Note(f"waiting for the deploy lock, held by {holder.describe()}"))
                reported = clock()
            sleep(POLL_SECONDS)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self._version is None:
            return
        # A 409 means it was taken over after expiry or broken by an operator: not ours to delete any more.
        # An unreachable server cannot be told; the lease then expires LEASE_SECONDS after its last renewal.
        with contextlib.suppress(KubeApiError, ClusterUnreachable):
            self._cluster.delete(LEASES, LOCK_NAMESPACE, self._name, resource_version=self._version)
        self._version = None

    def _body(self, acquired: datetime.datetime, version: str | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self._name,
            "namespace": LOCK_NAMESPACE,
            "annotations": {HOLDER_URL: self._url},
        }
        if version:
            metadata["resourceVersion"] = version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self._identity,
                "leaseDurationSeconds": LEASE_SECONDS,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(now()),
            },
        }

    def _try_take(self) -> Holder | None:
        """None when the lock is now ours; else who holds it.

        Usually nobody holds it and the Lease does not exist: it is created at once, without reading
        it first (one round trip, not two). Only when it exists is it read, and taken over if expired."""
        try:
            answer = self._cluster.create(LEASES, self._body(now()))
        except KubeApiError as exc:
            if exc.status != 409:
                raise
            live = self._cluster.get(LEASES, LOCK_NAMESPACE, self._name)
            if live is None:
                return Holder("another deploy")  # released between the two requests: look again
            holder = holder_of(live)
            if not holder.expired(now()) and holder.identity != self._identity:
                return holder
            try:
                answer = self._cluster.replace(LEASES, self._body(now(), live["metadata"]["resourceVersion"]))
            except KubeApiError as again:
                if again.status == 409:  # another deploy took it over first: look again
                    latest = self._cluster.get(LEASES, LOCK_NAMESPACE, self._name)
                    return holder_of(latest) if latest else Holder("another deploy")
                raise
        self._version = answer["metadata"]["resourceVersion"]
        self._acquired = parse_time(answer["spec"]["acquireTime"]) or now()
        return None

    def _start_renewing(self) -> None:
        def renew() -> None:
            while not self._stop.wait(RENEW_SECONDS):
                # A missed renewal is retried at the next tick: the lease outlives three of them.
                with contextlib.suppress(Exception):
                    answer = self._cluster.replace(LEASES, self._body(self._acquired, self._version))
                    self._version = answer["metadata"]["resourceVersion"]

        self._renewer = threading.Thread(target=renew, name="gitops-push-lock-renewal", daemon=True)
        self._renewer.start()


def unlock(cluster: Cluster, environment: str) -> Holder | None:
    """Break the environment's lock; returns whose it was (None when there was none)."""
    live = cluster.get(LEASES, LOCK_NAMESPACE, naming.lease(environment))
    if live is None:
        return None
    cluster.delete(LEASES, LOCK_NAMESPACE, naming.lease(environment))
    return holder_of(live)
