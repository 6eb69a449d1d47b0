"""KubeCluster: the one place where gitops-push sends requests to a Kubernetes API server.

Built on the official client's configuration (kubeconfig, contexts, exec plugins, tokens refreshed
when due, in-cluster service accounts), with raw REST calls: server-side apply needs the
`application/apply-patch+yaml` content type, and discovery is asked only for the group-versions a
change uses, not for every API group of the cluster. The calls go over `transport`'s kept-alive
connections, or through the official client's urllib3 pool where the configuration asks for what only
urllib3 does here (a proxy, for one).

Retries have two budgets. A 429 or 5xx answer is retried per request, within `retry_budget`. A server
that does not answer at all is one fact for the whole run, not one per request: the first connection
failure starts a clock that any answer stops, and once it has run past `unreachable_timeout` every
request fails at once with the same ClusterUnreachable.

Latency is measured, not assumed: every answer updates the fastest round trip seen (`round_trip()`),
from which the stages size how many requests they keep in flight. The connection pool is sized so
that those requests never open a connection only to drop it again: a new connection costs a TCP and
a TLS handshake, two round trips more.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from gitops_push.errors import ClusterUnreachable, GitopsPushError, UsageError
from gitops_push.kinds import BUILTIN_GROUPS
from gitops_push.kube import transport
from gitops_push.kube.errors import KubeApiError, from_api_exception
from gitops_push.kube.resource import Resource

REQUEST_TIMEOUT = (10, 30)  # connect, read: seconds; a stalled connection is retried, not waited on forever
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
BASE_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 30.0
RETRY_BUDGET = 90.0  # seconds, all attempts of one request together
UNREACHABLE_TIMEOUT = 30.0  # seconds without any answer from the server, for the whole run
CLOCK_SLACK = 0.001  # a retry that slept exactly until the end of the budget has reached it
MAX_INTERNAL_ERROR_RETRIES = 2  # a 500 is often deterministic (a body the server cannot convert)
MAX_POOL = 64  # connections kept open: the most requests a run keeps in flight (--concurrency's maximum)
SPARE_CONNECTIONS = 2  # for the lock's renewal and a request of the main thread beside the workers


IN_CLUSTER = "(in-cluster service account)"


def connect(
    kubeconfig: str | None, context: str | None, *, cache_dir: Path, pool_size: int | None = None
) -> KubeCluster:
    """Load credentials the usual way: --kubeconfig, KUBECONFIG, ~/.kube/config, then in-cluster.

    `pool_size` is the most requests the run sends at once (None: up to MAX_POOL). Connections are
    opened only when needed, so a large pool costs nothing; one too small would close a connection
    after each request beyond its size, and open a new one (two round trips) for the next."""
    configuration = k8s_client.Configuration()
    used = _load(configuration, kubeconfig, context)
    configuration.connection_pool_maxsize = (pool_size or MAX_POOL) + SPARE_CONNECTIONS
    # Retries are ours to decide (only for idempotent requests); urllib3's would retry PATCH and DELETE.
    configuration.retries = False
    insecure = not configuration.verify_ssl
    if insecure:
        # urllib3 warns on every request, hundreds of times per deploy; the run warns once instead,
        # in every output (the Connected event), which a long log cannot bury.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    cluster = KubeCluster(
        k8s_client.ApiClient(configuration),
        cache_dir=cache_dir,
        connections=transport.for_configuration(configuration, keep=configuration.connection_pool_maxsize),
    )
    cluster.context, cluster.insecure = used, insecure
    return cluster


def _load(configuration: Any, kubeconfig: str | None, context: str | None) -> str:
    """Fill `configuration`; returns the name of the context used."""
    try:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
        return context or _current_context(kubeconfig)
    except (ConfigException, FileNotFoundError, OSError) as exc:
        if kubeconfig or context:
            raise UsageError(
                f"cannot load the kubeconfig: {exc}", hint="check --kubeconfig and --context"
            ) from exc
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException:
            raise UsageError(
                f"no cluster credentials: {exc}",
                hint="give --kubeconfig, set KUBECONFIG, or run inside a pod with a service account; "
                "`plan --offline` needs no cluster",
            ) from exc
        return IN_CLUSTER


def _current_context(kubeconfig: str | None) -> str:
    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError):
        return "(unknown)"
    return str((active or {}).get("name") or "(unknown)")


class KubeCluster:
    """The Cluster protocol over HTTPS, with retries, discovery and OpenAPI caches."""

    def __init__(
        self, api_client: Any, *, cache_dir: Path, connections: transport.Connections | None = None
    ) -> None:
        self._api = api_client
        # Requests go over these when the configuration allows (see `transport`), else through the
        # official client's urllib3 pool.
        self._connections = connections
        self.server: str = str(api_client.configuration.host)
        self.context = ""
        self.insecure = False
        self._cache_dir = cache_dir / hashlib.sha256(self.server.encode()).hexdigest()[:16]
        self._discovery: dict[str, dict[str, Resource]] = {}
        self._server_version: str | None = None
        self._openapi_index: dict[str, str] | None = None
        self._fastest: float | None = None  # seconds: the quickest answer so far, about one round trip
        self._timer: Callable[[], float] = time.perf_counter
        self.retry_budget = RETRY_BUDGET
        self.unreachable_timeout = UNREACHABLE_TIMEOUT
        # Shared by the workers: 300 objects each retrying on its own against a dead server printed 300
        # errors over 25 minutes. When the server stopped answering (None: it answers), and why.
        self._unreachable_since: float | None = None
        self._last_fault = ""
        self._reach_lock = threading.Lock()
        self.request_timeout: tuple[float, float] = REQUEST_TIMEOUT
        self._clock: Callable[[], float] = time.monotonic
        self._sleep: Callable[[float], None] = time.sleep
        self._lock = threading.Lock()
        self._asking: dict[str, threading.Lock] = {}  # per group-version: one discovery request at a time

    # --- plumbing --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One REST call; JSON in and out. Raises KubeApiError or ClusterUnreachable.

        Idempotent requests (reads, server-side apply, deletes) are retried on 429 and 5xx answers,
        with exponential backoff and jitter, honouring Retry-After, within `retry_budget`; on
        connection faults until the run's `unreachable_timeout` is spent. Others (POST, PUT) are sent
        once: the caller decides.
        """
        idempotent = _idempotent(method, content_type)
        deadline = self._clock() + self.retry_budget
        attempt = 0
        while True:
            self._raise_if_given_up()
            attempt += 1
            sent = self._timer()
            try:
                answer = self._send(method, path, query, body, content_type)
            except ClusterUnreachable as exc:
                self._unreachable(exc)
                delay = self._retry_delay(exc, attempt) if idempotent else None
                if delay is None:
                    raise
                self._sleep(min(delay, self._unreachable_left()))
                continue
            except KubeApiError as exc:
                self._reached()  # an error answer is an answer: the server is there
                delay = self._retry_delay(exc, attempt) if idempotent else None
                if delay is None or self._clock() + delay > deadline:
                    raise
                self._sleep(delay)
                continue
            self._reached()
            self._answered_in(self._timer() - sent)
            return answer

    def round_trip(self) -> float | None:
        """Seconds of the fastest answer so far (about one network round trip); None before any."""
        return self._fastest

    def _answered_in(self, seconds: float) -> None:
        fastest = self._fastest
        if fastest is None or seconds < fastest:  # a lost race between workers only keeps a near-minimum
            self._fastest = seconds

    def _reached(self) -> None:
        with self._reach_lock:
            self._unreachable_since = None

    def _unreachable(self, exc: ClusterUnreachable) -> None:
        with self._reach_lock:
            if self._unreachable_since is None:
                self._unreachable_since = self._clock()
            self._last_fault = exc.message.rpartition(": ")[2]  # the cause, without the server's address

    def _unreachable_left(self) -> float:
        """Seconds until the run gives up on the server; 0 when it has, and when another request has
        just been answered (then this one is retried at once)."""
        since = self._unreachable_since
        return 0.0 if since is None else max(0.0, since + self.unreachable_timeout - self._clock())

    def _timeouts(self) -> tuple[float, float]:
        """Connect and read timeouts. During an outage an attempt may not outlast the budget left: a
        server that vanished without closing its connections would otherwise hold it for the whole
        read timeout."""
        connect, read = self.request_timeout
        if self._unreachable_since is None:
            return connect, read
        bound = max(self._unreachable_left(), 1.0)
        return min(connect, bound), min(read, bound)

    def _raise_if_given_up(self) -> None:
        """Once the server has been silent past the run's budget, no request is sent any more."""
        since = self._unreachable_since
        if since is None:
            return
        silent = self._clock() - since
        if silent >= self.unreachable_timeout - CLOCK_SLACK:
            raise ClusterUnreachable(
                f"cannot reach the API server {self.server}: no answer for {silent:.0f} s "
                f"(last error: {self._last_fault}); stopped sending requests",
                hint="no tag was moved; rerun when the server is back (--unreachable-timeout waits "
                "longer for it)",
            )

    def _retry_delay(self, exc: GitopsPushError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when this failure is final."""
        if isinstance(exc, KubeApiError):
            if exc.status not in RETRIED_STATUSES:
                return None
            if exc.status == 500 and attempt > MAX_INTERNAL_ERROR_RETRIES:
                return (
                    None  # often deterministic (a body the server cannot convert): do not wait out the budget
                )
            if exc.retry_after is not None:
                return min(exc.retry_after, MAX_RETRY_AFTER)
        backoff = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (attempt - 1))
        return random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not cryptography

    def _send(
        self, method: str, path: str, query: list[tuple[str, str]] | None, body: Any, content_type: str
    ) -> Any:
        if self._connections is None:
            return self._send_by_client(method, path, query, body, content_type)
        headers = {**self._api.default_headers, "Accept": "application/json"}
        for setting in self._api.configuration.auth_settings().values():  # a token, refreshed if due
            if setting["in"] == "header":
                headers[setting["key"]] = setting["value"]
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        target = f"{path}?{urlencode(query)}" if query else path
        try:
            answer = self._connections.send(
                method, target, headers, data, self._timeouts(), repeatable=_idempotent(method, content_type)
            )
        except OSError as exc:
            raise self._fault(exc) from exc
        if not 200 <= answer.status < 300:
            raise from_api_exception(answer.status, answer.body, method, path, answer.headers)
        return json.loads(answer.body) if answer.body else None

    def _send_by_client(
        self, method: str, path: str, query: list[tuple[str, str]] | None, body: Any, content_type: str
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        # The client serialises JSON types itself; apply-patch+yaml must arrive as text (JSON is YAML).
        payload = json.dumps(body) if body is not None and not content_type.endswith("json") else body
        try:
            verb, url, headers, payload, _ = self._api.param_serialize(
                method,
                path,
                query_params=list(query or []),
                header_params=headers,
                body=payload,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(
                verb, url, header_params=headers, body=payload, _request_timeout=self._timeouts()
            )
            raw = response.read()
        except ApiException as exc:
            if exc.status:
                raise from_api_exception(exc.status, exc.body, method, path, exc.headers) from exc
            raise self._fault(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._fault(exc) from exc
        if not 200 <= response.status < 300:
            raise from_api_exception(response.status, raw, method, path, response.getheaders())
        return json.loads(raw) if raw else None

    def _fault(self, exc: BaseException) -> ClusterUnreachable:
        return ClusterUnreachable(
            f"cannot reach the API server {self.server}: {_reason(exc)}",
            hint="check the kubeconfig's server address, the network and the credentials",
        )

    def close(self) -> None:
        if self._connections is not None:
            self._connections.close()
        self._api.close()

    # --- what the cluster is ---------------------------------------------------------------------

    def version(self) -> str:
        answer = self.request("GET", "/version")
        self._server_version = str(answer.get("gitVersion", "unknown"))
        return self._server_version

    def resource(self, api_version: str, kind: str) -> Resource | None:
        """Discovery for one group-version, asked once per run; None when the cluster lacks the kind."""
        known = self._discovery.get(api_version)
        if known is None:
            # One discovery request per group-version, even when many workers ask at once; a worker
            # asking for another group-version does not wait for it (a new CRD's group costs a round
            # trip, which every other kind of a dry-run waited for behind one lock).
            with self._lock:
                asking = self._asking.setdefault(api_version, threading.Lock())
            with asking:
                known = self._discovery.get(api_version)
                if known is None:
                    known = self._discover(api_version)
                    self._discovery[api_version] = known
        return known.get(kind)

    def resource_for_group_kind(self, group: str, kind: str) -> Resource | None:
        """Like `resource()`, at the group's preferred version."""
        if not group:
            return self.resource("v1", kind)
        try:
            answer = self.request("GET", f"/apis/{group}")
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        preferred = (answer.get("preferredVersion") or {}).get("groupVersion")
        return self.resource(preferred, kind) if preferred else None

    def forget_discovery(self) -> None:
        """After CRDs were applied, their kinds must be asked for again. The built-in group-versions
        do not change with CRDs: what was found of them is kept (asking again cost a round trip for
        each, one after another, between the waves)."""
        with self._lock:
            for api_version in [v for v in self._discovery if v.rpartition("/")[0] not in BUILTIN_GROUPS]:
                del self._discovery[api_version]
            self._openapi_index = None

    def _discover(self, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        cached = self._discovery_file(group, api_version)
        if cached is not None:
            try:
                return _resources(group, version, json.loads(cached.read_text()))
            except (OSError, ValueError, KeyError):
                pass
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            answer = self.request("GET", path)
        except KubeApiError as exc:
            if exc.status == 404:
                return {}
            raise
        if cached is not None:
            _write_atomically(cached, json.dumps(answer))
        return _resources(group, version, answer)

    def _discovery_file(self, group: str, api_version: str) -> Path | None:
        """Built-in group-versions are cached on disk per cluster; custom ones (CRDs come and go) are
        always asked.

        A cached answer is used only while the group-version's OpenAPI document keeps its hash (the
        server's index carries it, and a run reads the index anyway): the document lists every path,
        kind and scope of the group-version, so whatever changes discovery's answer changes the hash
        too, even without a new server version (an API enabled with --runtime-config). Without an
        index (a server that does not serve /openapi/v3), the server version is the key."""
        if group not in BUILTIN_GROUPS:
            return None
        name = f"{api_version.replace('/', '__')}.json"
        index = self._openapi_index
        url = (index or {}).get(f"apis/{api_version}" if group else f"api/{api_version}", "")
        content = url.partition("hash=")[2].partition("&")[0]
        if content.isalnum():  # a hex digest; anything else is no name for a folder
            return self._cache_dir / "discovery" / "by-openapi-hash" / content / name
        if not self._server_version:
            return None
        return self._cache_dir / "discovery" / self._server_version / name

    # --- objects ---------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = self.request("GET", resource.path(namespace, name))
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return answer

    def apply(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        *,
        field_manager: str,
        dry_run: bool,
        force: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply as `field_manager`; with dry_run the server persists nothing.

        Every apply asks the server not to check the body's fields (fieldValidation=Ignore), which
        spares it a tenth of its CPU per request (500 requests to a devcluster, medians of 8
        alternating rounds: dry-runs 1.72 against 1.98 CPU s, applies 2.66 against 2.87). Nothing
        gets through that way: server-side apply refuses an unknown field whatever the setting (the
        typed patch cannot be built), and the setting's own check is for repeated fields, which a
        body serialized from a dict cannot have (parsing refused them in the file); what it changes
        is only the warnings, which nothing reads.
        """
        metadata = body["metadata"]
        query = [("fieldManager", field_manager), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        query.append(("fieldValidation", "Ignore"))
        answer: dict[str, Any] = self.request(
            "PATCH",
            resource.path(metadata.get("namespace"), metadata["name"]),
            query=query,
            body=body,
            content_type="application/apply-patch+yaml",
        )
        return answer

    def patch_json(
        self, resource: Resource, namespace: str | None, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902); a failed `test` operation is a 422 and changes nothing."""
        answer: dict[str, Any] = self.request(
            "PATCH",
            resource.path(namespace, name),
            body=operations,
            content_type="application/json-patch+json",
        )
        return answer

    def create(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST: fails with 409 AlreadyExists when someone created it first (what a lock needs)."""
        answer: dict[str, Any] = self.request(
            "POST", resource.path(body["metadata"].get("namespace")), body=body
        )
        return answer

    def replace(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT with the body's resourceVersion: fails with 409 Conflict if the object changed meanwhile."""
        metadata = body["metadata"]
        answer: dict[str, Any] = self.request(
            "PUT", resource.path(metadata.get("namespace"), metadata["name"]), body=body
        )
        return answer

    def delete(
        self, resource: Resource, namespace: str | None, name: str, *, resource_version: str | None = None
    ) -> bool:
        """Delete in the background (dependents are collected by the cluster); False when already gone.

        With `resource_version`, only that version is deleted (a 409 Conflict otherwise).
        """
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if resource_version:
            options["preconditions"] = {"resourceVersion": resource_version}
        try:
            self.request("DELETE", resource.path(namespace, name), body=options)
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def list(
        self,
        resource: Resource,
        *,
        label_selector: str = "",
        field_selector: str = "",
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        """Objects matching the selectors, in one namespace or (None) in all of them; pages of 500."""
        items: list[dict[str, Any]] = []
        selectors = [("labelSelector", label_selector)] if label_selector else []
        selectors += [("fieldSelector", field_selector)] if field_selector else []
        query = [*selectors, ("limit", "500")]
        while True:
            answer = self.request("GET", resource.path(namespace), query=query)
            items.extend(answer.get("items", []))
            token = answer.get("metadata", {}).get("continue")
            if not token:
                return items
            query = [*selectors, ("limit", "500"), ("continue", token)]

    # --- OpenAPI v3, for validation --------------------------------------------------------------

    def openapi_index(self) -> dict[str, str]:
        """{'apis/apps/v1': '/openapi/v3/apis/apps/v1?hash=…', …}; asked once per run (again after
        `forget_discovery`)."""
        index = self._openapi_index
        if index is None:
            answer = self.request("GET", "/openapi/v3")
            index = {path: entry["serverRelativeURL"] for path, entry in answer.get("paths", {}).items()}
            self._openapi_index = index
        return dict(index)

    def openapi_document(self, relative_url: str) -> dict[str, Any]:
        """One group-version's OpenAPI v3 document; cached on disk by the hash in its URL."""
        key = hashlib.sha256(relative_url.encode()).hexdigest()[:24]
        cached = self._cache_dir / "openapi" / f"{key}.json"
        try:
            return dict(json.loads(cached.read_text()))
        except (OSError, ValueError):
            pass
        path, _, query = relative_url.partition("?")
        params = [tuple(p.split("=", 1)) for p in query.split("&") if "=" in p]
        answer: dict[str, Any] = self.request("GET", path, query=params)  # type: ignore[arg-type]
        _write_atomically(cached, json.dumps(answer))
        return answer


def _resources(group: str, version: str, answer: Mapping[str, Any]) -> dict[str, Resource]:
    resources = {}
    for entry in answer.get("resources", []):
        if "/" in entry["name"]:
            continue  # subresources such as deployments/status
        resources[entry["kind"]] = Resource(
            group=group,
            version=version,
            kind=entry["kind"],
            plural=entry["name"],
            namespaced=entry["namespaced"],
        )
    return resources


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _idempotent(method: str, content_type: str) -> bool:
    """Whether sending the request twice does what sending it once does (reads, deletes, applies)."""
    return method in ("GET", "DELETE") or content_type == "application/apply-patch+yaml"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: {exc.verify_message or 'certificate verify failed'}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    reason = getattr(exc, "reason", None)
    return str(reason or exc).split(": ")[-1] if reason or str(exc) else type(exc).__name__
