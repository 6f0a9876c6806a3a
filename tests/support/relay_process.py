"""A real relay process for the crash tests: `web2text-relay serve`, or, with
`crash_at`, the relay of `tests.support.crashing_relay`, which dies at that step."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def relay_env(**values: str) -> dict[str, str]:
    """This process's environment without any W2T_/TWILIO_ setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    env.update(values)
    return env


def relay_command(port: int, crash_at: str | None = None) -> list[str]:
    """The command line of a relay process on `port`: `web2text-relay serve`, or
    the crashing relay when it is to die at the step `crash_at`."""
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if crash_at is None:
        return [sys.executable, "-m", "app.relay.cli", "serve", *where]
    return [sys.executable, "-m", "tests.support.crashing_relay", crash_at, *where]


class RelayProcess:
    """A relay process on `port`, configured by `env`, its output appended to `log`;
    started (its /healthz answered) when the constructor returns."""

    def __init__(
        self, env: dict[str, str], port: int, log: Path, *, crash_at: str | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            relay_command(port, crash_at),
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited during start-up ({self.proc.returncode})")
            if time.monotonic() > deadline:
                raise TimeoutError("relay did not start")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
