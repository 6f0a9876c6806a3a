"""A real `web2text-relay serve` process (the crash tests kill it with W2T_CRASH_AT)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx


def relay_env(**values: str) -> dict[str, str]:
    """This process's environment without any W2T_/TWILIO_ setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    env.update(values)
    return env


class RelayProcess:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.relay.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
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
