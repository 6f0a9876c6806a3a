"""A relay process that dies at a named step, for the crash tests.

    python -m tests.support.crashing_relay STEP --host 127.0.0.1 --port 8080

Configured from the environment like `web2text-relay serve`; its services get a
checkpoint (`RelayContext.checkpoint`) that ends the process at once (exit code
17, no clean-up, as a crash would) when the step named STEP is reached (e.g.
`after_details`, `send.after_twilio`, `after_message_stored`). Tests start it
through `tests.support.relay_process.RelayProcess(..., crash_at=STEP)`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

import uvicorn

from app.relay.app import create_app
from app.relay.config import Settings

CRASH_EXIT_CODE = 17

log = logging.getLogger("tests.crashing_relay")


def crash_at(step: str) -> Callable[[str], None]:
    """A checkpoint that kills the process at `step` and lets every other step pass."""

    def checkpoint(reached: str) -> None:
        if reached == step:
            log.warning("crash point reached: exiting", extra={"step": step})
            os._exit(CRASH_EXIT_CODE)

    return checkpoint


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    app = create_app(Settings.from_env())
    app.state.ctx.checkpoint = crash_at(args.step)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
