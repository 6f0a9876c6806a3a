"""Run the lead-systems simulator in-process (tests, the demo) on a loopback port."""

from __future__ import annotations

from typing import Any

from app.sandbox.lead_systems_sim.app import create_lead_systems_app
from app.sandbox.lead_systems_sim.config import LeadSimConfig
from app.sandbox.lead_systems_sim.faults import FaultState, parse_faults
from app.sandbox.lead_systems_sim.state import LeadSystemsState
from app.sandbox.servers import UvicornThread


class LeadSystemsHandle:
    """A running simulator; `state` is the live data (each part has its own lock)."""

    def __init__(self, server: UvicornThread, state: LeadSystemsState, faults: FaultState):
        self._server = server
        self.state = state
        self.faults = faults

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def config(self) -> LeadSimConfig:
        return self.state.config

    def env(self) -> dict[str, str]:
        """The relay's environment for every system, pointed at this simulator."""
        return relay_env(self.url, self.config)

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Like POST /_sim/faults; raises FaultError for an invalid setting."""
        self.faults.set(parse_faults(faults))

    def received(self, system: str) -> list[dict[str, Any]]:
        return self.state.received.of(system)

    def reset(self) -> None:
        self.state.reset()
        self.faults.set({})

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LeadSystemsHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def relay_env(url: str, config: LeadSimConfig) -> dict[str, str]:
    """`RLM_*`, `DHQ_*`, `BOTPRESS_*`, `ACTON_*`, `FF_API_URL` and `NEXUS_*` for a relay
    that should use the simulator at `url` (Nexus with a direct Cognito client)."""
    return {
        "NEXUS_API_URL": f"{url}/nexus/",
        "NEXUS_API_USERNAME": config.nexus_username,
        "NEXUS_API_PASSWORD": config.nexus_password,
        "NEXUS_AWS_API_URL": f"{url}/nexus-aws/",
        "NEXUS_COGNITO_TOKEN_URL": f"{url}/cognito/oauth2/token",
        "NEXUS_COGNITO_CLIENT_ID": config.cognito_client_id,
        "NEXUS_COGNITO_CLIENT_SECRET": config.cognito_client_secret,
        "BOTPRESS_API_URL": f"{url}/botpress",
        "BOTPRESS_API_TOKEN": config.botpress_token,
        "BOTPRESS_BOT_ID": config.botpress_bot_id,
        "BOTPRESS_WORKSPACE_ID": config.botpress_workspace_id,
        "RLM_API_URL": f"{url}/rlm/",
        "RLM_GOD_API_KEY": config.rlm_god_api_key,
        "RLM_GOD_EMAIL": config.rlm_god_email,
        "DHQ_API_URL": f"{url}/dhq/",
        "DHQ_API_KEY": config.dhq_api_key,
        "ACTON_BASE_URL": f"{url}/acton",
        "ACTON_USERNAME": config.acton_username,
        "ACTON_PASSWORD": config.acton_password,
        "ACTON_CLIENT_ID": config.acton_client_id,
        "ACTON_CLIENT_SECRET": config.acton_client_secret,
        "FF_API_URL": f"{url}/floorforce",
    }


def start_lead_systems_sim(
    *, host: str = "127.0.0.1", port: int | None = None, **config: Any
) -> LeadSystemsHandle:
    """Start a simulator on a loopback port and return once it listens (keyword
    arguments are `LeadSimConfig` fields, e.g. `hang_s`, `cognito_token_ttl_s`)."""
    app = create_lead_systems_app(LeadSimConfig(**config))
    server = UvicornThread(app, host=host, port=port).start()
    return LeadSystemsHandle(server, app.state.lead_systems, app.state.lead_faults)
