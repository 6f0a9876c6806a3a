"""`web2text-lead-systems-sim`: run the lead-systems simulator as a server and print
the relay environment that points at it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from app.sandbox.lead_systems_sim.app import create_lead_systems_app
from app.sandbox.lead_systems_sim.config import LeadSimConfig, LeadSimConfigError
from app.sandbox.lead_systems_sim.server import relay_env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="web2text-lead-systems-sim",
        description="Simulated Nexus, Botpress, RLM, DHQ, Act-On and FloorForce.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--print-env", action="store_true", help="print the relay env and exit")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    try:
        config = LeadSimConfig().validate()
    except LeadSimConfigError as err:  # pragma: no cover - defaults are valid
        parser.error(str(err))
    url = f"http://{args.host}:{args.port}"
    for name, value in relay_env(url, config).items():
        print(f"{name}={value}", flush=True)
    if args.print_env:
        return 0
    uvicorn.run(
        create_lead_systems_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
