"""The connectors' HTTP: one httpx client per system with its timeout, bounded
retries with backoff, and every failure sorted by what the far side may have done.

- *not applied*: nothing was delivered (connection refused, connect timeout) or
  the far side answered a failure (any non-2xx but 504): it did not act;
- *unknown*: the request may have arrived and acted (read timeout, connection
  lost before the answer, 504).

A call is retried in place (exponential backoff with jitter, `Retry-After` as a
floor, `max_attempts` in all) when the far side did nothing and said it was busy
(no connection, 429, 502, 503), and for idempotent calls on any transient
failure. URLs are never logged (RLM puts its key in the path); only the
operation's name is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import httpx
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

log = logging.getLogger("app.relay.connectors")

#: answers that say "busy, nothing done": safe to send again at once
_BUSY = frozenset({429, 502, 503})


class Outcome(StrEnum):
    NOT_APPLIED = "not_applied"
    UNKNOWN = "unknown"


class CallFailed(Exception):
    """A connector call that did not succeed (after its retries)."""

    def __init__(
        self,
        system: str,
        op: str,
        *,
        outcome: Outcome,
        transient: bool,
        status: int | None = None,
        error: str = "",
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{system} {op}: {status or error}")
        self.system, self.op = system, op
        self.outcome, self.transient = outcome, transient
        self.status, self.error, self.body = status, error, body
        self.retry_after = retry_after

    @property
    def label(self) -> str:
        """Short, for people: "503", "timeout", "connection refused"."""
        return str(self.status) if self.status is not None else self.error

    def details(self) -> dict[str, Any]:
        """What the original put under `Details.response` (no secrets: no URL)."""
        out: dict[str, Any] = {"Outcome": self.outcome.value}
        if self.status is not None:
            out["Status"] = self.status
        if self.error:
            out["Error"] = self.error
        if self.body is not None:
            out["Body"] = self.body
        return out


def join_url(base: str, path: str) -> str:
    """`base` + `path` with exactly one slash between (the original appended the
    suffix without a separator, so every base had to end in `/`)."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500] or None


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return min(float(raw), 30.0) if raw else None
    except ValueError:
        return None


def classify(system: str, op: str, exc: httpx.HTTPError) -> CallFailed:
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return CallFailed(system, op, outcome=Outcome.NOT_APPLIED, transient=True, error="timeout")
    if isinstance(exc, httpx.ConnectError):
        error = "connection refused"
        return CallFailed(system, op, outcome=Outcome.NOT_APPLIED, transient=True, error=error)
    if isinstance(exc, httpx.WriteTimeout | httpx.WriteError):
        # the request never got out whole: the far side cannot have acted on it
        error = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection lost"
        return CallFailed(system, op, outcome=Outcome.NOT_APPLIED, transient=True, error=error)
    if isinstance(exc, httpx.TimeoutException):
        return CallFailed(system, op, outcome=Outcome.UNKNOWN, transient=True, error="timeout")
    return CallFailed(system, op, outcome=Outcome.UNKNOWN, transient=True, error="connection lost")


def failed_answer(system: str, op: str, response: httpx.Response) -> CallFailed:
    status = response.status_code
    return CallFailed(
        system,
        op,
        outcome=Outcome.UNKNOWN if status == 504 else Outcome.NOT_APPLIED,
        transient=status in (408, 429) or status >= 500,
        status=status,
        body=_body(response),
        retry_after=_retry_after(response),
    )


class ConnectorStats:
    """Calls per system and result, for `/metrics` (`w2t_connector_calls_total`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def count(self, system: str, result: str) -> None:
        with self._lock:
            key = (system, result)
            self._counts[key] = self._counts.get(key, 0) + 1

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def collector(self) -> Collector:
        return _StatsCollector(self)


class _StatsCollector(Collector):
    def __init__(self, stats: ConnectorStats) -> None:
        self._stats = stats

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            "w2t_connector_calls",
            "Calls to lead-tracking systems (RLM, DHQ, ...) by system and result",
            labels=["system", "result"],
        )

    def describe(self) -> list[CounterMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        for (system, result), n in sorted(self._stats.counts().items()):
            family.add_metric([system, result], n)
        yield family


class RetryPolicy:
    def __init__(self, max_attempts: int, backoff_s: float, backoff_max_s: float) -> None:
        self.max_attempts = max(1, max_attempts)
        self.backoff_max_s = backoff_max_s
        self._wait = wait_exponential_jitter(
            multiplier=backoff_s, max=backoff_max_s, jitter=backoff_s
        )

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        floor = getattr(exc, "retry_after", None) or 0.0
        return max(float(floor), float(self._wait(state)))


class ConnectorHttp:
    """One system's HTTP client (thread-safe; shared by every lead)."""

    def __init__(
        self, system: str, timeout_s: float, policy: RetryPolicy, stats: ConnectorStats
    ) -> None:
        self.system = system
        self.policy = policy
        self.stats = stats
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    @property
    def budget_s(self) -> float:
        """The longest one `call` can take, retries and backoff included: an intent
        older than this was left by a holder that died (or lost its answer)."""
        p = self.policy
        timeout = self._client.timeout.read or 0.0
        return p.max_attempts * timeout + (p.max_attempts - 1) * p.backoff_max_s + 5.0

    def call(
        self, op: str, method: str, url: str, *, idempotent: bool, **kwargs: Any
    ) -> httpx.Response:
        """The 2xx answer, or `CallFailed` once the retries are spent."""

        def retry(exc: BaseException) -> bool:
            if not isinstance(exc, CallFailed) or not exc.transient:
                return False
            if idempotent:
                return True
            busy = exc.status is None or exc.status in _BUSY
            return exc.outcome is Outcome.NOT_APPLIED and busy

        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self.policy.wait,
            retry=retry_if_exception(retry),
            reraise=True,
        )
        try:
            return retrying(self._once, op, method, url, kwargs)
        except CallFailed as exc:
            log.warning(
                "connector call failed",
                extra={
                    "system": self.system,
                    "op": op,
                    "outcome": exc.outcome.value,
                    "result": exc.label,
                },
            )
            raise

    def _once(self, op: str, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            failed = classify(self.system, op, exc)
            self.stats.count(self.system, failed.error.replace(" ", "_"))
            raise failed from None
        self.stats.count(self.system, str(response.status_code))
        if response.is_success:
            return response
        raise failed_answer(self.system, op, response)
