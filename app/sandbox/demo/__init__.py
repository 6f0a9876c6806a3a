"""`web2text --demo`: the whole product in one process, on loopback ports.

    handle = start_demo()             # blocks until the seeded inbox is in place
    handle.relay_url, handle.staff_key, handle.data_dir, handle.is_demo
    handle.stop()                     # or stop_demo()

What runs (daemon threads of this process; `stack`): moto's DynamoDB server
(in memory), the Twilio simulator (its Messaging Service pool is the
demo's proxy pool, its webhooks go to the relay) and the relay itself. The
seeded inbox (~40 website leads with their conversations, `demo_data`) comes
from a snapshot (`snapshot`, `restore`) when one fits this code; otherwise it
is played through the real APIs (`seeding`) and saved as a snapshot for next
time. Then the simulated world (`world`) keeps the demo alive through the relay:
customers answer a few seconds after staff write (one texts STOP), the store
phone answers now and then, and a new website lead arrives about every minute.

Nothing here runs on the Qt thread, and the staff key is never written to a
file: the desktop keeps it in memory for the session. Demo data lives in its
own folder (`<user data dir>/Web2Text/demo`, or `W2T_DEMO_DIR`), which every
start wipes and re-creates; it never touches a real profile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from app.sandbox import demo_data as data
from app.sandbox.demo.folder import MARKER, default_demo_dir, reset_demo_dir
from app.sandbox.demo.handle import DemoError, DemoHandle, DemoStats, Track
from app.sandbox.demo.stack import (
    Stack,
    Stops,
    demo_aws_environment,
    issue_keys,
    quiet_logs,
    start_relay,
    start_stack,
    write_directory,
)

__all__ = [
    "MARKER",
    "DemoError",
    "DemoHandle",
    "DemoStats",
    "Track",
    "default_demo_dir",
    "prepare",
    "reset_demo_dir",
    "start_demo",
    "stop_demo",
]

log = logging.getLogger("app.sandbox.demo")
# The staff member the desktop signs in as (W2T_DEMO_STAFF picks the other one).
DEFAULT_STAFF = "demo-jordan"
DEFAULT_LEADS = 40

_current: DemoHandle | None = None
_current_lock = threading.Lock()


def stop_demo() -> None:
    """Stop the demo started by `start_demo()` in this process (the desktop calls it at quit)."""
    global _current
    with _current_lock:
        handle, _current = _current, None
    if handle is not None:
        handle.stop()


def _lead_count(leads: int | None) -> int:
    if leads is not None:
        return leads
    # W2T_DEMO_LEADS: fewer seeded leads for a quick check
    raw = os.environ.get("W2T_DEMO_LEADS", "")
    return int(raw) if raw.isdigit() and int(raw) >= 6 else DEFAULT_LEADS


def _staff(staff_id: str | None) -> data.StaffSeed:
    staff_id = staff_id or os.environ.get("W2T_DEMO_STAFF") or DEFAULT_STAFF
    try:
        return next(s for s in data.STAFF if s.staff_id == staff_id)
    except StopIteration:
        known = ", ".join(s.staff_id for s in data.STAFF)
        raise DemoError(f"no demo staff {staff_id!r} (one of {known})", "unknown_staff") from None


def start_demo(
    data_dir: Path | str | None = None,
    *,
    staff_id: str | None = None,
    seed: int | None = 7,
    leads: int | None = None,
    live: bool = True,
    lead_interval: float = 60.0,
    reply_delay: tuple[float, float] = (3.0, 8.0),
    store_answer_rate: float = 0.3,
    stop_after: float = 20.0,
    background_history: bool = True,
    use_snapshot: bool = True,
) -> DemoHandle:
    """Start the embedded sandbox with its seeded inbox; returns once the inbox is in.

    Blocking: call it from a worker thread, as the desktop does
    (`asyncio.to_thread`). When the inbox is played rather than restored, the
    conversations' histories follow in the background (`handle.history_done` is
    set when they are in) unless `background_history=False`. `live=False` keeps
    the world still (tests). `seed=None` draws a different demo every time (never
    from a snapshot); `use_snapshot=False` always plays the seed.
    """
    stop_demo()  # one demo per process
    started = time.monotonic()
    count, staff = _lead_count(leads), _staff(staff_id)
    folder = _fresh_folder(data_dir)
    plan_seed = seed if seed is not None else random.randrange(2**31)
    plan = data.build_seed(plan_seed, count)
    options = {
        "rng": random.Random(f"{plan_seed}:live"),
        "reply_delay": reply_delay,
        "store_answer_rate": store_answer_rate,
        "lead_interval": lead_interval,
        "stop_after": stop_after,
    }
    snapshots = use_snapshot and seed is not None
    stops: Stops = []
    try:
        stack = start_stack(stops)
        snap = _snapshot_for(plan_seed, count) if snapshots else None
        if snap is not None:
            handle = _restored(stack, snap, plan, folder, staff, stops, options)
            handle.stats.seed_seconds = round(time.monotonic() - started, 2)
            if live:
                handle.world.loop.call_soon_threadsafe(handle.world.go_live)
        else:
            handle = _played(stack, plan, folder, staff, stops, options)
            handle.stats.seed_seconds = round(time.monotonic() - started, 2)
            _after_seed(handle, stack, plan, (plan_seed, count), live=live, save=snapshots,
                        wait=not background_history)  # fmt: skip
        handle._stops = stops
    except BaseException:
        _stop_all(stops)
        raise
    _log_ready(handle)
    _make_current(handle)
    return handle


def _fresh_folder(data_dir: Path | str | None) -> Path:
    """The demo's emptied folder, this process's fake AWS credentials, quiet logs."""
    folder = reset_demo_dir(Path(data_dir) if data_dir else default_demo_dir())
    demo_aws_environment()
    quiet_logs()
    return folder


def _stop_all(stops: Stops) -> None:
    """What a failed start had started, newest first."""
    for stop in reversed(stops):
        with contextlib.suppress(Exception):
            stop()


def _log_ready(handle: DemoHandle) -> None:
    log.info(
        "demo ready in %.1fs (%s): %d leads, relay %s, data in %s",
        handle.stats.seed_seconds,
        "restored" if handle.stats.restored else "played",
        handle.stats.leads_seeded,
        handle.relay_url,
        handle.data_dir,
    )


def _make_current(handle: DemoHandle) -> None:
    global _current
    with _current_lock:
        _current = handle


def _snapshot_for(seed: int, leads: int) -> dict[str, Any] | None:
    from app.sandbox.demo import snapshot

    path = snapshot.find(seed, leads)
    if path is None:
        return None
    try:
        return snapshot.load(path)
    except (OSError, ValueError) as exc:  # a damaged cache file: play the seed instead
        log.warning("demo: ignoring snapshot %s: %s", path, exc)
        return None


def _new_handle(
    stack: Stack, folder: Path, staff: data.StaffSeed, stops: Stops, options: dict[str, Any]
) -> DemoHandle:
    from app.sandbox.demo.world import World

    lead_key, keys = issue_keys(stack)
    start_relay(stack, stops)
    handle = DemoHandle(
        relay_url=stack.relay_url,
        staff_key=keys[staff.staff_id],
        data_dir=folder,
        staff_id=staff.staff_id,
        staff_name=staff.name,
        simulator_url=stack.sim.url,
        dynamodb_url=stack.dynamodb_url,
        lead_key=lead_key,
        sim=stack.sim,
        lead_systems=stack.lead_systems,
        lead_systems_url=stack.lead_systems.url,
        staff_keys=keys,
        other_staff={k: v for k, v in keys.items() if k != staff.staff_id},
    )
    world = World(handle, **options)
    stops.append(world.stop)
    world.start()
    handle.world = world
    return handle


def _restored(
    stack: Stack,
    snap: dict[str, Any],
    plan: list[data.LeadSeed],
    folder: Path,
    staff: data.StaffSeed,
    stops: Stops,
    options: dict[str, Any],
) -> DemoHandle:
    from app.sandbox.demo.restore import restore, tracks

    sids = restore(snap, stack)  # before the relay starts: it loads the pool at start
    handle = _new_handle(stack, folder, staff, stops, options)
    tracks(snap, sids, plan, handle)
    handle.stats.restored = True
    handle.stats.leads_seeded = len(plan)
    handle.stats.messages_seeded = int(snap.get("messages_seeded", 0))
    handle.history_done.set()
    return handle


def _played(
    stack: Stack,
    plan: list[data.LeadSeed],
    folder: Path,
    staff: data.StaffSeed,
    stops: Stops,
    options: dict[str, Any],
) -> DemoHandle:
    from app.sandbox.demo.seeding import seed_leads

    write_directory(stack)
    handle = _new_handle(stack, folder, staff, stops, options)
    world = handle.world
    world.call_while_progressing(seed_leads(world.client, plan, world.failed), "seeding")
    return handle


def _after_seed(
    handle: DemoHandle,
    stack: Stack,
    plan: list[data.LeadSeed],
    key: tuple[int, int],
    *,
    live: bool,
    save: bool,
    wait: bool,
) -> None:
    """The histories, then (when it all went well) a snapshot, then the live world."""
    import asyncio

    from app.sandbox.demo import snapshot
    from app.sandbox.demo.seeding import play_histories

    world = handle.world

    async def run() -> None:
        try:
            await play_histories(world.client, plan, world.failed)
            if save and not handle.stats.errors:
                snap = await asyncio.to_thread(snapshot.dump, stack, handle, *key)
                path = await asyncio.to_thread(snapshot.save, snap, *key)
                log.info("demo: saved the seeded inbox as %s", path)
        finally:
            handle.history_done.set()
        if live:
            world.go_live()

    if wait:
        world.call_while_progressing(run(), "the seeded histories")
    else:
        world.later(run)


def prepare(seed: int = 7, leads: int | None = None) -> Path:
    """Make the snapshot for this code and seed if there is none yet; returns its path."""
    import tempfile

    from app.sandbox.demo import snapshot

    count = _lead_count(leads)
    found = snapshot.find(seed, count)
    if found is not None:
        return found
    with tempfile.TemporaryDirectory(prefix="w2t-demo-") as tmp:
        handle = start_demo(
            Path(tmp) / "demo", seed=seed, leads=count, live=False, background_history=False
        )
        try:
            if handle.stats.errors:
                raise DemoError(f"seeding had errors: {handle.stats.errors[0]}", "seed_failed")
        finally:
            stop_demo()
    made = snapshot.find(seed, count)
    if made is None:
        raise DemoError("the seeded demo could not be saved", "snapshot_failed")
    return made
