"""Prometheus metrics of one relay app, on its own registry.

Each app gets a private `CollectorRegistry` (several relay apps run in one test
process; the global default registry would refuse duplicate metric names and
mix their counts). The app's `RelayMetrics` is one of its services
(`ctx.metrics`); `install(app, metrics)` adds the counting middleware and
`router` serves `GET /metrics`. Other modules count with:

    ctx.metrics.send("accepted")
    ctx.metrics.twilio_error(50416)

`GET /metrics` is served only with `Authorization: Bearer <W2T_METRICS_TOKEN>`
(404 when the relay has no token: the endpoint is off; 401 for a wrong one), so
the public listener never hands its counters out.

Webhooks (`/TwilioWebhooks/*`) are counted by the middleware itself, by
`EventType` or `OptOutType` of their form body and the answer's class
(ok/rejected/error).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.relay.context import context_of
from app.relay.ddb import Tables
from app.relay.errors import ApiError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.relay.pool import ProxyPool
    from app.relay.twilio_client import TwilioGateway

#: Routes whose duration is a connection lifetime, not a request latency.
_STREAMING_ROUTES = frozenset({"/v1/stream"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RelayMetrics:
    """The relay's metrics; one instance per app. `tables`: whose DynamoDB call
    counts to report; `gateway`: whose Twilio error counts to merge in; `pool`:
    whose health to report."""

    def __init__(
        self, tables: Tables, gateway: TwilioGateway | None, pool: ProxyPool | None = None
    ) -> None:
        self.tables = tables
        self.gateway = gateway
        self.pool = pool
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "w2t_http_requests_total",
            "HTTP requests by route template, method and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "w2t_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "w2t_webhooks_total",
            "Twilio webhooks received, by kind (EventType/OptOutType) and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.sends = Counter(
            "w2t_staff_sends_total",
            "Staff message sends by outcome (accepted, replayed, rejected reason, error)",
            ["outcome"],
            registry=self.registry,
        )
        # Twilio errors come from two places: calls counted here and the Twilio
        # gateway's own per-code tally (`TwilioGateway.calls_by_code`), merged at
        # scrape time into one `w2t_twilio_errors_total{code}`.
        self._twilio_lock = threading.Lock()
        self._twilio_counts: dict[str, int] = {}
        self.registry.register(_CountsCollector(
            "w2t_twilio_errors",
            "Errors answered by the Twilio API, by Twilio error code (or HTTP status)",
            "code", self.twilio_error_counts))
        self.registry.register(_CountsCollector(
            "w2t_dynamodb_calls", "DynamoDB API calls made, by operation", "operation",
            self._dynamodb_call_counts))
        self.registry.register(_PoolCollector(pool))
        self.stream_clients = Counter(
            "w2t_stream_connections_total",
            "Server-sent event streams opened",
            registry=self.registry,
        )

    def webhook(self, kind: str, outcome: str = "ok") -> None:
        self.webhooks.labels(kind=kind or "unknown", outcome=outcome).inc()

    def send(self, outcome: str) -> None:
        self.sends.labels(outcome=outcome).inc()

    def twilio_error(self, code: int | str | None) -> None:
        label = str(code) if code is not None else "unknown"
        with self._twilio_lock:
            self._twilio_counts[label] = self._twilio_counts.get(label, 0) + 1

    def _dynamodb_call_counts(self) -> dict[str, int]:
        return self.tables.call_counts()

    def twilio_error_counts(self) -> dict[str, int]:
        with self._twilio_lock:
            merged = dict(self._twilio_counts)
        if self.gateway is not None:
            for code, n in list(self.gateway.calls_by_code.items()):
                merged[str(code)] = merged.get(str(code), 0) + int(n)
        return merged

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _CountsCollector(Collector):
    """A counter family read at scrape time from counts kept elsewhere (by label)."""

    def __init__(
        self, name: str, documentation: str, label: str, counts: Callable[[], dict[str, int]]
    ) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self._counts = counts

    def describe(self) -> list[CounterMetricFamily]:
        return [self._family()]

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self._name, self._documentation, labels=[self._label])

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = self._family()
        for value, n in sorted(self._counts().items()):
            family.add_metric([value], n)
        yield family


class _PoolCollector(Collector):
    """Proxy-pool health read at scrape time from the app's `ProxyPool`: its size,
    the allocations that left an address few free numbers (low) or none
    (exhausted), and the free numbers the last allocation left."""

    def __init__(self, pool: ProxyPool | None) -> None:
        self._pool = pool

    def describe(self) -> list[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._pool)

    def _families(self, pool: ProxyPool | None) -> Iterator[Metric]:
        size = GaugeMetricFamily("w2t_proxy_pool_numbers", "Numbers in the proxy pool")
        low = CounterMetricFamily(
            "w2t_proxy_pool_low",
            "Allocations that left an address fewer than W2T_POOL_LOW_WATER free numbers",
        )
        gone = CounterMetricFamily(
            "w2t_proxy_pool_exhausted", "Allocations that found no free number (the lead waits)"
        )
        free = GaugeMetricFamily(
            "w2t_proxy_pool_last_free", "Free numbers the last allocation left its address"
        )
        if pool is not None:
            size.add_metric([], len(pool.numbers))
            low.add_metric([], pool.low_events)
            gone.add_metric([], pool.exhausted_events)
            if pool.last_free is not None:
                free.add_metric([], pool.last_free)
        yield from (size, low, gone, free)


#: Paths whose requests are Twilio webhooks, counted by kind.
WEBHOOK_PREFIX = "/TwilioWebhooks/"


def webhook_kind(path: str, body: bytes) -> str:
    """`onMessageAdded`, `STOP`, ... from a webhook's form body; else the path's last part."""
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)
    except ValueError:
        form = {}
    for field in ("EventType", "OptOutType"):
        values = form.get(field)
        if values and values[0].isalnum() and len(values[0]) <= 40:
            return values[0]
    return path.rsplit("/", 1)[-1][:40] or "unknown"


class MetricsMiddleware:
    """Counts every HTTP request by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: RelayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        is_webhook = str(scope.get("path", "")).startswith(WEBHOOK_PREFIX)
        seen: list[bytes] = []

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and sum(map(len, seen)) < 65536:
                seen.append(message.get("body", b""))
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, tee_receive if is_webhook else receive, send_wrapper)
        finally:
            if is_webhook:
                code = status["code"]
                outcome = "ok" if code < 400 else ("rejected" if code < 500 else "error")
                self.metrics.webhook(webhook_kind(str(scope["path"]), b"".join(seen)), outcome)
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            if template not in _STREAMING_ROUTES:
                self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


def install(app: FastAPI, metrics: RelayMetrics) -> None:
    """Count every request of `app` in `metrics`."""
    app.add_middleware(MetricsMiddleware, metrics=metrics)


router = APIRouter()


@router.get("/metrics", tags=["ops"], include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus text, only for `Authorization: Bearer <W2T_METRICS_TOKEN>`: 404 when no
    token is configured (not served at all), 401 for a missing or wrong one."""
    token = context_of(request).settings.metrics_token
    if not token:
        raise ApiError(404, "not_found", "Not Found")
    presented = request.headers.get("authorization", "").strip()
    if presented[:7].lower() == "bearer ":
        presented = presented[7:].strip()
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise ApiError(401, "unauthorized", "Send the metrics token: Authorization: Bearer <token>")
    return Response(context_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
