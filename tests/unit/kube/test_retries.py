"""KubeCluster.request retries: what a real server cannot be made to answer on demand (429 with
Retry-After, 503, exact outage lengths), played by a small fake at the `_send` seam, with a fake clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_push.errors import ClusterUnreachable
from gitops_push.kube.client import KubeCluster
from gitops_push.kube.errors import KubeApiError


class FakeApi:
    configuration = type("Configuration", (), {"host": "https://127.0.0.1:6443"})()


class Scripted(KubeCluster):
    """Answers from a script of exceptions and results; sleeps on a fake clock."""

    def __init__(self, script: list[Any], tmp_path: Path) -> None:
        super().__init__(FakeApi(), cache_dir=tmp_path)
        self.script = script
        self.sent: list[str] = []
        self.slept: list[float] = []
        self.now = 0.0
        self._clock = lambda: self.now
        self._sleep = self._advance

    def _advance(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def _send(self, method: str, path: str, query: Any, body: Any, content_type: str) -> Any:
        self.sent.append(method)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def api_error(status: int, retry_after: float | None = None) -> KubeApiError:
    return KubeApiError(status, "TooManyRequests", "slow down", (), "GET", "/x", retry_after)


def test_a_429_is_retried_after_the_time_the_server_asks_for(tmp_path: Path) -> None:
    cluster = Scripted([api_error(429, retry_after=3), api_error(429, retry_after=1), {"ok": True}], tmp_path)
    assert cluster.request("GET", "/api/v1") == {"ok": True}
    assert cluster.slept == [3, 1]


def test_5xx_and_resets_are_retried_with_growing_jittered_backoff(tmp_path: Path) -> None:
    unreachable = ClusterUnreachable("cannot reach the API server: connection reset")
    cluster = Scripted([api_error(503), unreachable, api_error(502), {"ok": 1}], tmp_path)
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "b"}}
    answer = cluster.request("PATCH", "/x", body=body, content_type="application/apply-patch+yaml")
    assert answer == {"ok": 1}
    assert len(cluster.slept) == 3
    assert (
        0.25 <= cluster.slept[0] <= 0.5 and 0.5 <= cluster.slept[1] <= 1.0 and 1.0 <= cluster.slept[2] <= 2.0
    )


def test_requests_that_are_not_idempotent_are_sent_once(tmp_path: Path) -> None:
    cluster = Scripted([api_error(503)], tmp_path)
    with pytest.raises(KubeApiError):
        cluster.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", body={})
    assert cluster.sent == ["POST"]


def test_client_errors_are_final(tmp_path: Path) -> None:
    cluster = Scripted([api_error(422)], tmp_path)
    with pytest.raises(KubeApiError):
        cluster.request("GET", "/x")
    assert cluster.slept == []


def test_internal_errors_are_retried_twice_at_most(tmp_path: Path) -> None:
    cluster = Scripted([api_error(500)] * 5, tmp_path)
    with pytest.raises(KubeApiError):
        cluster.request("GET", "/x")
    assert len(cluster.sent) == 3


def test_retries_stop_within_the_budget(tmp_path: Path) -> None:
    cluster = Scripted([api_error(503)] * 100, tmp_path)
    cluster.retry_budget = 20
    with pytest.raises(KubeApiError):
        cluster.request("GET", "/x")
    assert cluster.now <= 20
    assert 3 <= len(cluster.sent) < 100


# --- one budget for an unreachable server, shared by every request of a run ---------------------


def refused() -> ClusterUnreachable:
    return ClusterUnreachable("cannot reach the API server https://127.0.0.1:6443: Connection refused")


def test_a_server_that_stays_silent_stops_every_request_after_one_budget(tmp_path: Path) -> None:
    cluster = Scripted([refused()] * 100, tmp_path)
    cluster.unreachable_timeout = 10
    with pytest.raises(ClusterUnreachable) as first:
        cluster.request("GET", "/x")
    assert cluster.now == pytest.approx(10)  # it slept up to the budget, not past it
    assert first.value.message == (
        "cannot reach the API server https://127.0.0.1:6443: no answer for 10 s "
        "(last error: Connection refused); stopped sending requests"
    )
    sent = len(cluster.sent)
    with pytest.raises(ClusterUnreachable) as later:  # another worker's request, on the same clock
        cluster.request("PATCH", "/y", body={}, content_type="application/apply-patch+yaml")
    assert len(cluster.sent) == sent  # failed at once, without being sent
    assert later.value.message == first.value.message


def test_the_budget_counts_from_the_first_failure_of_any_request(tmp_path: Path) -> None:
    cluster = Scripted([refused()], tmp_path)
    cluster.unreachable_timeout = 10
    with pytest.raises(ClusterUnreachable):
        cluster.request("POST", "/lease", body={})  # sent once: its failure still starts the clock
    cluster.now = 7.0
    cluster.script = [refused()] * 100
    with pytest.raises(ClusterUnreachable, match="no answer for 10 s"):
        cluster.request("GET", "/x")
    assert cluster.now == pytest.approx(10)  # three seconds were left, not ten


def test_a_server_back_within_the_budget_is_used_again_and_a_new_outage_gets_a_new_budget(
    tmp_path: Path,
) -> None:
    cluster = Scripted([refused()] * 4 + [{"ok": 1}], tmp_path)
    cluster.unreachable_timeout = 30
    assert cluster.request("GET", "/x") == {"ok": 1}
    later = cluster.now
    cluster.script = [refused()] * 100
    with pytest.raises(ClusterUnreachable, match="no answer for 30 s"):
        cluster.request("GET", "/x")
    assert cluster.now == pytest.approx(later + 30)


def test_an_error_answer_proves_the_server_is_there(tmp_path: Path) -> None:
    cluster = Scripted([refused(), api_error(503), refused(), {"ok": 1}], tmp_path)
    cluster.unreachable_timeout = 30
    assert cluster.request("GET", "/x") == {"ok": 1}
    assert cluster._unreachable_since is None


def test_429_and_5xx_answers_keep_their_own_budget_per_request(tmp_path: Path) -> None:
    cluster = Scripted([api_error(503)] * 100, tmp_path)
    cluster.unreachable_timeout = 1
    cluster.retry_budget = 20
    with pytest.raises(KubeApiError):
        cluster.request("GET", "/x")
    assert 10 < cluster.now <= 20  # the short unreachable budget did not cut the retries of answers


def test_during_an_outage_an_attempt_may_not_outlast_the_budget_left(tmp_path: Path) -> None:
    cluster = Scripted([refused()], tmp_path)
    cluster.unreachable_timeout = 12
    assert cluster._timeouts() == (10, 30)  # the server answers: the usual timeouts
    with pytest.raises(ClusterUnreachable):
        cluster.request("POST", "/lease", body={})  # the outage starts
    cluster.now = 8.0
    assert cluster._timeouts() == (4, 4)
