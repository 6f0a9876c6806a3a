"""The crash drill shared by the crash tests and `bench/sync`: real `web2text-sync run`
processes SIGKILLed at random moments while they deliver a queue."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.sync import store
from app.sync.db import Database

SCRIPT = str(Path(sys.executable).with_name("web2text-sync"))


@dataclass
class DrillResult:
    kills: int
    killed_mid_delivery: int  # kills that landed while the outbox was partly delivered
    final_code: int
    final_status: dict[str, object]


def cli_env(token: str) -> dict[str, str]:
    env = {**os.environ, "W2T_TOKEN": token,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    return env


def queue_messages(data_dir: Path, plan: list[tuple[str, str]]) -> None:
    """Queue (conversation, body) pairs in order; the first through the real CLI."""
    first_conv, first_body = plan[0]
    subprocess.run([SCRIPT, "--data-dir", str(data_dir), "send", first_conv, first_body],
                   check=True, capture_output=True, env=cli_env(""))
    db = Database.open(data_dir)
    try:
        for conv, body in plan[1:]:
            db.writer.call(store.enqueue_send, conv, body, None)
    finally:
        db.close()


def accepted_count(data_dir: Path, total: int) -> Callable[[], int]:
    """Progress as the store sees it: queued rows no longer in the outbox."""
    import sqlite3

    def count() -> int:
        conn = sqlite3.connect(data_dir / "sync.db", timeout=10)
        try:
            (left,) = conn.execute("SELECT count(*) FROM outbox").fetchone()
        finally:
            conn.close()
        return int(total - left)

    return count


def drill(
    data_dir: Path,
    relay_url: str,
    token: str,
    kills: int,
    delivered: Callable[[], int],
    seed: int = 0,
    min_s: float = 0.3,
    max_s: float = 1.6,
    jitter_s: float = 0.3,
    final_timeout: float = 120.0,
) -> DrillResult:
    rng = random.Random(seed)
    env = cli_env(token)
    mid = 0
    for _ in range(kills):
        before = delivered()
        with open(data_dir / "drill.log", "ab") as log_file:
            proc = subprocess.Popen(
                [SCRIPT, "--data-dir", str(data_dir), "--relay-url", relay_url, "-v", "run"],
                env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        # a random moment, biased into delivery: once this process has delivered
        # something (or after max_s), wait a random bit more and kill it
        deadline = time.monotonic() + rng.uniform(min_s, max_s)
        while delivered() == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, jitter_s))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if delivered() > before:
            mid += 1
    final = subprocess.run(
        [SCRIPT, "--data-dir", str(data_dir), "--relay-url", relay_url, "run", "--until-idle",
         "--timeout", str(final_timeout)],
        env=env, capture_output=True, text=True, timeout=final_timeout + 30)
    lines = final.stdout.strip().splitlines()
    status = json.loads(lines[-1]) if lines else {"stderr": final.stderr[-2000:]}
    return DrillResult(kills, mid, final.returncode, status)
