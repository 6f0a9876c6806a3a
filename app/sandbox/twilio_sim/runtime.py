"""SimRuntime: one simulator's state plus the worker threads that act on it."""

from __future__ import annotations

import logging
import threading

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.faults import FaultState
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.state import SimState
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher

log = logging.getLogger("app.sandbox.twilio_sim")


class SimRuntime:
    """One simulator: its state plus the worker threads that act on it."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config.validate()
        self.clock = SimClock(config.time_scale)
        self.faults = FaultState()
        self.dispatcher = WebhookDispatcher(
            config.auth_token,
            self.faults,
            timeout=config.webhook_timeout,
            max_attempts=config.webhook_max_attempts,
            retry_delay=config.webhook_retry_delay,
            workers=config.webhook_workers,
        )
        self.carrier = Scheduler("twilio-sim-carrier")
        self.state = SimState(config, self.clock, self.faults, self.dispatcher, self.carrier)
        self._stop = threading.Event()
        self._timer_thread: threading.Thread | None = None
        self._started = False
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self._stop.clear()
            self.dispatcher.start()
            self.carrier.start()
            self._timer_thread = threading.Thread(
                target=self._timer_loop, name="twilio-sim-timers", daemon=True
            )
            self._timer_thread.start()

    def stop(self) -> None:
        with self._start_lock:
            if not self._started:
                return
            self._started = False
            self._stop.set()
            if self._timer_thread is not None:
                self._timer_thread.join(5)
            self.carrier.stop()
            self.dispatcher.stop()

    def idle(self) -> bool:
        """No carrier work and no webhook delivery queued or running."""
        return self.carrier.idle() and self.dispatcher.idle()

    def _timer_loop(self) -> None:
        while not self._stop.wait(self.config.timer_interval):
            try:
                self.state.run_timers()
            except Exception:  # the loop must survive a bad conversation
                log.exception("timer loop failed")
