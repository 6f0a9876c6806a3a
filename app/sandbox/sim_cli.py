"""`web2text-twilio-sim`: run the Twilio simulator as a server."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from app.sandbox.twilio_sim import SimConfig, SimConfigError, create_sim_app
from app.sandbox.twilio_sim.sids import new_sid


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="web2text-twilio-sim",
        description="A stateful Twilio simulator (Conversations v1, Lookup v2, Messaging pool).",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--account-sid", required=True, help="AC... SID the SDK authenticates as")
    parser.add_argument("--auth-token", required=True, help="auth token; also signs webhooks")
    parser.add_argument(
        "--webhook-url",
        required=True,
        help="the Messaging Service inbound webhook (the relay's onIncomingMessage)",
    )
    parser.add_argument(
        "--voice-url",
        default=None,
        help="the pool numbers' voice webhook (the relay's onIncomingCall)",
    )
    parser.add_argument("--pool", default="", help="comma-separated E.164 pool numbers")
    parser.add_argument("--messaging-service-sid", default=None, help="MG... (default: random)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second for conversation timers (default 1)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    pool = [n.strip() for n in args.pool.split(",") if n.strip()]
    try:
        config = SimConfig(
            account_sid=args.account_sid,
            auth_token=args.auth_token,
            webhook_url=args.webhook_url,
            voice_url=args.voice_url,
            pool=pool,
            messaging_service_sid=args.messaging_service_sid or new_sid("MG"),
            time_scale=args.time_scale,
        ).validate()
    except SimConfigError as err:
        parser.error(str(err))
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_sim_app(config)
    app.state.sim.state.public_url = f"http://{args.host}:{args.port}"
    # Printed so that scripts can read the generated Messaging Service SID.
    print(
        f"twilio simulator on http://{args.host}:{args.port} "
        f"messaging_service_sid={config.messaging_service_sid} pool={len(pool)}",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
