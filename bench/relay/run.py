"""Relay figures (issue 4), each against its baseline measured in the same run.

    .venv/bin/python -m bench.relay.run [--seconds 10] [--rounds 4] [--concurrency 16]
                                        [--json out.json]

Starts DynamoDB Local, the Twilio simulator and ONE relay process (a real
`uvicorn` subprocess: `python -m app.relay.cli serve`), plus the baseline: a bare
FastAPI endpoint doing one PutItem on the same DynamoDB Local (also its own
uvicorn subprocess, see bench/relay/bare_app.py). Then, for a bounded time each
(default 10 s, at most 20 s):

1. baseline: `POST /put/{id}` on the bare app;
2. lead creations: `POST /Lead/{uuid}/create` (a new LeadId and customer phone
   each time; `SyncImmediately: false` unless `--sync`, so the figure is the
   lead service itself, not the simulator's conversation set-up);
3. webhooks: signed `POST /TwilioWebhooks/sync` `onMessageAdded` events (a new
   MessageSid each, an inbound customer text), round-robin over `--conversations`
   (8) conversations that real leads opened through the simulator.

The three phases take turns in `--rounds` slices (default 4: baseline, leads,
webhooks, baseline, leads, ... each for seconds/rounds), so that a machine
whose speed drifts during the run (a shared VM: the same work took 1.5x the CPU
a minute later in runs here) weighs on the baseline and the phases alike;
`--rounds 1` runs each phase in one go, as before round 4.

Prints requests/s, p50 and p99 latency and the ratio to the baseline's rate
(goal: at least 0.5x). Every phase counts only 2xx answers as done.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from app.sandbox.servers import free_port
from tests.support.dynamodb_local import client as ddb_client
from tests.support.dynamodb_local import dynamodb_local
from tests.support.relay import init_tables, seed_dealer, seed_location

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
POOL = ["+13125550101", "+13125550102", "+12125550103", "+14155550104", "+12145550105"]
MAX_SECONDS = 20.0


@dataclass
class Figure:
    name: str
    done: int
    failed: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    ratio: float | None = None
    #: baseline's CPU per request (all processes) / this phase's: the rate ratio the
    #: phases would have if the machine's cores were the only limit and all theirs
    cpu_ratio: float | None = None
    note: str = ""
    #: CPU milliseconds per completed request, by process, during the phase
    cpu_ms_per_request: dict[str, float] | None = None
    #: DynamoDB calls the relay made per completed request, by operation (its /metrics)
    ddb_calls_per_request: dict[str, float] | None = None


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _find_pid(*needles: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmd for n in needles):
            return int(entry.name)
    return None


#: the relay under load serves /metrics only with this token (W2T_METRICS_TOKEN)
METRICS_TOKEN = "bench-metrics-token"


def _ddb_calls(metrics_url: str | None) -> dict[str, float]:
    """The relay's `w2t_dynamodb_calls_total` by operation (empty without a URL)."""
    if not metrics_url:
        return {}
    out: dict[str, float] = {}
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    text = httpx.get(metrics_url, headers=auth, timeout=10).text
    for line in text.splitlines():
        if line.startswith("w2t_dynamodb_calls_total{"):
            labels, _, value = line.rpartition(" ")
            operation = labels.split('operation="', 1)[1].split('"', 1)[0]
            out[operation] = float(value)
    return out


def _py_spy() -> str:
    """py-spy next to this interpreter (a venv's bin is often not on PATH), else PATH's."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else "py-spy"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Sample:
    """What one slice of load measured (slices of one phase are added up)."""

    latencies: list[float]
    failed: int
    codes: dict[int, int]
    elapsed: float
    cpu_seconds: dict[str, float]
    ddb_calls: dict[str, float]

    def add(self, other: Sample) -> Sample:
        return Sample(
            self.latencies + other.latencies,
            self.failed + other.failed,
            {k: self.codes.get(k, 0) + other.codes.get(k, 0) for k in {*self.codes, *other.codes}},
            self.elapsed + other.elapsed,
            {k: self.cpu_seconds.get(k, 0) + v for k, v in other.cpu_seconds.items()},
            {
                k: self.ddb_calls.get(k, 0) + other.ddb_calls.get(k, 0)
                for k in {*self.ddb_calls, *other.ddb_calls}
            },
        )


async def _load(
    seconds: float,
    concurrency: int,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    pids: dict[str, int],
    profile: Path | None = None,
    metrics_url: str | None = None,
) -> Sample:
    latencies: list[float] = []
    failed = 0
    codes: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        # warm-up: connections, thread pools, JIT-less caches
        for _ in range(min(concurrency, 8)):
            await request(client)
        cpu_before = {name_: _cpu_seconds(pid) for name_, pid in pids.items()}
        calls_before = _ddb_calls(metrics_url)
        spy = None
        if profile is not None and "relay" in pids:
            # py-spy (optional, `pip install py-spy`): collapsed stacks of the relay
            spy = subprocess.Popen(
                [
                    _py_spy(),
                    "record",
                    "--pid",
                    str(pids["relay"]),
                    "--duration",
                    str(max(1, int(seconds))),
                    "--format",
                    "raw",
                    "--threads",
                    "--nonblocking",
                    "--gil",  # only the thread holding the GIL: where the CPU goes
                    "--rate",
                    "250",
                    "--output",
                    str(profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    resp = await request(client)
                    ok = 200 <= resp.status_code < 300
                    codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        if spy is not None:
            spy.wait(30)
        # every request of the slice has had its answer: the calls of the slice are counted
        calls_after = _ddb_calls(metrics_url)
        cpu = {name_: _cpu_seconds(pid) - cpu_before[name_] for name_, pid in pids.items()}
    return Sample(
        latencies,
        failed,
        codes,
        elapsed,
        cpu,
        {op: n - calls_before.get(op, 0) for op, n in calls_after.items()},
    )


def _figure(name: str, sample: Sample, with_calls: bool) -> Figure:
    done = max(1, len(sample.latencies))
    note = "" if not sample.failed else f"answers {dict(sorted(sample.codes.items()))}"
    return Figure(
        name=name,
        done=len(sample.latencies),
        failed=sample.failed,
        seconds=round(sample.elapsed, 2),
        rate=round(len(sample.latencies) / sample.elapsed, 1) if sample.elapsed else 0.0,
        p50_ms=(
            round(statistics.median(sample.latencies) * 1000, 1)
            if sample.latencies
            else float("nan")
        ),
        p99_ms=round(_percentile(sample.latencies, 0.99) * 1000, 1),
        note=note,
        cpu_ms_per_request={k: round(v * 1000 / done, 2) for k, v in sample.cpu_seconds.items()},
        ddb_calls_per_request=(
            {op: round(n / done, 2) for op, n in sorted(sample.ddb_calls.items()) if n > 0}
            if with_calls
            else None
        ),
    )


def _spawn(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{args} did not start")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _lead_body(seed: Any, sync: bool) -> dict[str, Any]:
    # 1000-9999: never one of the seeded store, Web2Text or pool numbers (0101-0399)
    phone = "+1312555" + str(1000 + uuid.uuid4().int % 9000)
    return {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": seed.retailer_id,
        "SyncImmediately": sync,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://dealer.example.com/rugs/1",
            "Name": "Bench Customer",
            "PhoneNumber": phone,
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is this rug in stock?",
        },
    }


def _open_conversation(
    relay_url: str, seed: Any, location_id: str | None = None
) -> tuple[str, str] | None:
    """Create one synced lead and wait for its conversation (for the webhook phase)."""
    lead_id = str(uuid.uuid4())
    body = _lead_body(seed, True)
    if location_id:
        body["Lead"]["LocationId"] = location_id
    headers = {"Authorization": f"Bearer {seed.lead_key}"}
    r = httpx.post(f"{relay_url}/Lead/{lead_id}/create", json=body, headers=headers, timeout=30)
    if r.status_code != 200:
        return None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = httpx.get(f"{relay_url}/Lead/{lead_id}/status", headers=headers, timeout=10).json()
        data = ((state.get("Integrations") or {}).get("Twilio") or {}).get("Data") or {}
        if data.get("ConversationSID"):
            return str(data["ConversationSID"]), str(body["Lead"]["PhoneNumber"])
        time.sleep(0.2)
    return None


async def main_async(args: argparse.Namespace) -> list[Figure]:
    seconds = min(float(args.seconds), MAX_SECONDS)
    figures: list[Figure] = []
    local = (
        contextlib.nullcontext(args.dynamodb_endpoint)
        if args.dynamodb_endpoint
        else dynamodb_local()
    )
    with local as endpoint:
        prefix = "TESTBENCH" + uuid.uuid4().hex[:6].upper()
        settings = init_tables(endpoint, prefix)
        bare_table = f"{prefix}_Bare"
        ddb_client(endpoint).create_table(
            TableName=bare_table,
            AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        relay_port, bare_port = free_port(), free_port()
        relay_url, bare_url = f"http://127.0.0.1:{relay_port}", f"http://127.0.0.1:{bare_port}"
        sim_port = free_port()
        sim_url = f"http://127.0.0.1:{sim_port}"
        mg_sid = "MG" + "c" * 32
        seed = seed_dealer(
            settings, web2text_number="+13125550188", pool=POOL, store_number="+13125550199"
        )
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("W2T_")}
        base_env.update(
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
            W2T_DYNAMODB_ENDPOINT=endpoint,
        )
        relay_env = dict(
            base_env,
            W2T_TABLE_PREFIX=prefix,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            W2T_TWILIO_BASE_URL=sim_url,
            TWILIO_MESSAGING_SERVICE_SID=mg_sid,
            W2T_PUBLIC_URL=relay_url,
            W2T_ENVIRONMENT="bench",
            # the load is one key and one phone: measure the relay, not its abuse limits
            W2T_KEY_RATE="100000000",
            W2T_PHONE_LEADS_PER_DAY="100000000",
            W2T_METRICS_TOKEN=METRICS_TOKEN,
        )
        bare_env = dict(base_env, BENCH_TABLE=bare_table)
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
        # The simulator runs in its own process so that it does not share the load
        # generator's interpreter (GIL) and its CPU can be accounted separately.
        sim = _spawn(
            [
                sys.executable,
                "-m",
                "app.sandbox.sim_cli",
                "--port",
                str(sim_port),
                "--account-sid",
                ACCOUNT_SID,
                "--auth-token",
                AUTH_TOKEN,
                "--webhook-url",
                f"{relay_url}/TwilioWebhooks/onIncomingMessage",
                "--pool",
                ",".join(POOL),
                "--messaging-service-sid",
                mg_sid,
                "--log-level",
                "warning",
            ],
            base_env,
            sim_url,
        )
        relay = _spawn(
            [sys.executable, "-m", "app.relay.cli", "serve", "--port", str(relay_port)],
            relay_env,
            relay_url,
        )
        bare = _spawn(
            [*uvicorn, "bench.relay.bare_app:app", "--port", str(bare_port)], bare_env, bare_url
        )
        java = _find_pid("DynamoDBLocal.jar", f"-port {endpoint.rsplit(':', 1)[1]}")
        pids = {"bench": os.getpid(), "relay": relay.pid, "bare": bare.pid, "sim": sim.pid}
        if java is not None:
            pids["dynamodb"] = java
        try:
            if args.warmup > 0:
                # DynamoDB Local's JIT warms up over its first thousand calls or so:
                # measured cold, the baseline (the first phase) would pay for it alone.
                await _load(
                    min(args.warmup, MAX_SECONDS),
                    args.concurrency,
                    lambda c: c.post(f"{bare_url}/put/{uuid.uuid4()}"),
                    pids,
                )
            headers = {"Authorization": f"Bearer {seed.lead_key}"}
            # Webhooks spread over several conversations (one per location, each
            # with its own store phone), as live traffic is: a burst on a single
            # conversation would mostly measure version-conflict retries.
            locations = [seed.location_id] + [
                seed_location(
                    settings,
                    seed.retailer_id,
                    f"+1312555{200 + i:04d}",
                    name=f"Bench store {i}",
                    store_number=f"+1312555{300 + i:04d}",
                )
                for i in range(max(0, args.conversations - 1))
            ]
            with ThreadPoolExecutor(4) as pool:
                results = list(
                    pool.map(lambda loc: _open_conversation(relay_url, seed, loc), locations)
                )
            conversations = [x for x in results if x is not None]
            validator = RequestValidator(AUTH_TOKEN)
            url = f"{relay_url}/TwilioWebhooks/sync"
            counter = iter(range(10**9))

            def webhook(c: httpx.AsyncClient) -> Awaitable[httpx.Response]:
                n = next(counter)
                sid, customer = conversations[n % len(conversations)]
                params = {
                    "EventType": "onMessageAdded",
                    "AccountSid": ACCOUNT_SID,
                    "ConversationSid": sid,
                    "MessageSid": "IM" + uuid.uuid4().hex,
                    "Index": str(1000 + n),
                    "Author": customer,
                    "Body": f"bench reply {n}",
                    "Attributes": "{}",
                    "DateCreated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "Source": "SMS",
                }
                signature = validator.compute_signature(url, params)
                return c.post(
                    url,
                    content=urlencode(params),
                    headers={
                        "X-Twilio-Signature": signature,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )

            # (name, request, profile file stem, relay metrics URL)
            phases: list[
                tuple[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], str, str]
            ] = [
                (
                    "baseline: bare FastAPI + one PutItem",
                    lambda c: c.post(f"{bare_url}/put/{uuid.uuid4()}"),
                    "",
                    "",
                ),
                (
                    f"lead creations (SyncImmediately={str(args.sync).lower()})",
                    lambda c: c.post(
                        f"{relay_url}/Lead/{uuid.uuid4()}/create",
                        json=_lead_body(seed, args.sync),
                        headers=headers,
                    ),
                    "leads",
                    f"{relay_url}/metrics",
                ),
            ]
            if conversations:
                phases.append(
                    ("webhooks (onMessageAdded)", webhook, "webhooks", f"{relay_url}/metrics")
                )
            # The phases take turns in `rounds` slices (baseline, leads, webhooks,
            # baseline, ...), so that a machine whose speed drifts during the run
            # (a shared VM) weighs on the baseline and the phases alike; a phase's
            # figures add up its slices.
            rounds = max(1, int(args.rounds))
            samples: dict[str, Sample] = {}
            for r in range(rounds):
                for name, request, stem, metrics_url in phases:
                    profile = None
                    if args.profile and stem:
                        profile = args.profile / (
                            f"{stem}.txt" if rounds == 1 else f"{stem}-{r + 1}.txt"
                        )
                    sample = await _load(
                        seconds / rounds,
                        args.concurrency,
                        request,
                        pids,
                        profile,
                        metrics_url or None,
                    )
                    samples[name] = samples[name].add(sample) if name in samples else sample
            for name, _, _, metrics_url in phases:
                figures.append(_figure(name, samples[name], bool(metrics_url)))
            baseline = figures[0]
            if not conversations:
                figures.append(
                    Figure(
                        "webhooks (onMessageAdded)",
                        0,
                        0,
                        0,
                        0,
                        float("nan"),
                        float("nan"),
                        note="no conversation could be opened",
                    )
                )
        finally:
            _stop(relay)
            _stop(bare)
            _stop(sim)
        base_cpu = sum((baseline.cpu_ms_per_request or {}).values())
        for fig in figures[1:]:
            if baseline.rate > 0 and fig.rate > 0:
                fig.ratio = round(fig.rate / baseline.rate, 2)
            fig_cpu = sum((fig.cpu_ms_per_request or {}).values())
            if base_cpu > 0 and fig_cpu > 0:
                fig.cpu_ratio = round(base_cpu / fig_cpu, 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)  # DynamoDB Local accepts any credentials
    parser = argparse.ArgumentParser(description="relay throughput figures with their baseline")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (max 20)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--warmup",
        type=float,
        default=3.0,
        help="seconds of unmeasured baseline load first (DynamoDB Local's JIT)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the phases take turns in this many slices of seconds/rounds each",
    )
    parser.add_argument("--sync", action="store_true", help="leads with SyncImmediately=true")
    parser.add_argument(
        "--conversations", type=int, default=8, help="conversations the webhooks are spread over"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--dynamodb-endpoint", help="use this DynamoDB Local instead of starting one"
    )
    parser.add_argument(
        "--profile", type=Path, help="directory for py-spy collapsed stacks of the relay"
    )
    args = parser.parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    figures = asyncio.run(main_async(args))
    print(f"{'phase':45} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  done/failed")
    for f in figures:
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}x"
        print(
            f"{f.name:45} {f.rate:8.1f} {f.p50_ms:8.1f} {f.p99_ms:8.1f} {ratio:>6}  "
            f"{f.done}/{f.failed} {f.note}"
        )
        if f.cpu_ms_per_request:
            total = round(sum(f.cpu_ms_per_request.values()), 1)
            print(f"{'':45} CPU ms per request: {total} {f.cpu_ms_per_request}")
        if f.cpu_ratio is not None:
            print(f"{'':45} CPU-cost ratio to the baseline: {f.cpu_ratio:.2f}x")
        if f.ddb_calls_per_request:
            total = round(sum(f.ddb_calls_per_request.values()), 2)
            print(f"{'':45} DynamoDB calls per request: {total} {f.ddb_calls_per_request}")
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
