"""Run the simulator in-process (tests, the demo) on a loopback port."""

from __future__ import annotations

import time
from typing import Any

from app.sandbox.servers import UvicornThread
from app.sandbox.twilio_sim.app import create_sim_app
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.faults import parse_faults
from app.sandbox.twilio_sim.runtime import SimRuntime
from app.sandbox.twilio_sim.sids import new_sid
from app.sandbox.twilio_sim.state import SimState
from app.sandbox.twilio_sim.state.media import parse_media_inputs


class SimHandle:
    """A running simulator. `state` is the live in-memory account, for direct
    inspection (take `state.lock` when reading several things at once)."""

    def __init__(self, server: UvicornThread, runtime: SimRuntime) -> None:
        self._server = server
        self._runtime = runtime

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def config(self) -> SimConfig:
        return self._runtime.config

    @property
    def state(self) -> SimState:
        return self._runtime.state

    @property
    def runtime(self) -> SimRuntime:
        return self._runtime

    @property
    def account_sid(self) -> str:
        return self._runtime.config.account_sid

    @property
    def auth_token(self) -> str:
        return self._runtime.config.auth_token

    @property
    def messaging_service_sid(self) -> str:
        return self._runtime.config.messaging_service_sid

    @property
    def pool(self) -> list[str]:
        return list(self._runtime.state.pool)

    def set_webhook_url(self, url: str | None) -> None:
        """Point the Messaging Service inbound webhook somewhere (the relay usually
        starts after the simulator)."""
        self._runtime.state.set_webhook_url(url)

    def set_voice_url(self, url: str | None) -> None:
        """Point the pool numbers' voice webhook somewhere (the relay's onIncomingCall)."""
        self._runtime.state.set_voice_url(url)

    def handset(self, phone: str) -> list[dict[str, Any]]:
        return self._runtime.state.handset(phone)

    def calls(self, phone: str) -> list[dict[str, Any]]:
        """The calls that rang `phone` (the `calls` of GET /_sim/handset)."""
        return self._runtime.state.call_log(phone)

    def inbound(
        self, from_: str, to: str, body: str, media: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """`from_` texts pool number `to` (like POST /_sim/inbound; `media` as there)."""
        return self._runtime.state.inbound(from_, to, body, parse_media_inputs(media))

    def call(self, from_: str, to: str, answer: bool = True, duration: int = 30) -> dict[str, Any]:
        """`from_` calls pool number `to` (like POST /_sim/call)."""
        return self._runtime.state.call(from_, to, answer, duration)

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Like POST /_sim/faults; raises FaultError for an invalid setting."""
        self._runtime.faults.set(parse_faults(faults))

    def set_line_types(self, mapping: dict[str, str]) -> None:
        self._runtime.state.set_line_types(mapping)

    def advance(self, seconds: float) -> int:
        """Move the simulated clock forward and run due timers (like POST /_sim/tick)."""
        self._runtime.clock.advance(seconds)
        return self._runtime.state.run_timers()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until carrier work and webhook delivery (with retries) have drained."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            if self._runtime.idle():
                quiet_since = quiet_since or time.monotonic()
                # Work can hop between the two workers; demand a short quiet spell.
                if time.monotonic() - quiet_since >= 0.05:
                    return
            else:
                quiet_since = None
            time.sleep(0.01)
        raise TimeoutError(f"simulator still busy after {timeout}s")

    def reset(self) -> None:
        self._runtime.state.reset()

    def stop(self) -> None:
        self._server.stop()
        self._runtime.stop()

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    account_sid: str,
    auth_token: str,
    webhook_url: str | None = None,
    pool: list[str] | tuple[str, ...] = (),
    messaging_service_sid: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    time_scale: float = 1.0,
    **config: Any,
) -> SimHandle:
    """Start a simulator on a loopback port and return once it listens.

    Extra keyword arguments go to `SimConfig` (e.g. `webhook_max_attempts`,
    `webhook_retry_delay`, `carrier_delay`).
    """
    sim_config = SimConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        webhook_url=webhook_url,
        pool=list(pool),
        messaging_service_sid=messaging_service_sid or new_sid("MG"),
        time_scale=time_scale,
        **config,
    )
    app = create_sim_app(sim_config)
    runtime: SimRuntime = app.state.sim
    server = UvicornThread(app, host=host, port=port).start()
    runtime.state.public_url = server.url
    return SimHandle(server, runtime)
