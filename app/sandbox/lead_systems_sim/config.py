"""Configuration of one lead-systems simulator: the credentials each simulated
system expects (the relay's `RLM_*`, `DHQ_*`, ... must match them)."""

from __future__ import annotations

from dataclasses import dataclass


class LeadSimConfigError(ValueError):
    """A simulator setting is unusable; the message says which and why."""


@dataclass
class LeadSimConfig:
    nexus_username: str = "nexus-user"
    nexus_password: str = "nexus-pass"
    cognito_client_id: str = "nexus-client"
    cognito_client_secret: str = "nexus-client-secret"
    #: lifetime of a Cognito access token (`expires_in`); the Nexus AWS API answers
    #: 401 to an expired one
    cognito_token_ttl_s: int = 3600
    botpress_token: str = "botpress-token"
    botpress_bot_id: str = "bot-1"
    botpress_workspace_id: str = "workspace-1"
    rlm_god_api_key: str = "rlm-god-key"
    rlm_god_email: str = "god@rlm.example"
    dhq_api_key: str = "dhq-key"
    acton_username: str = "acton-user"
    acton_password: str = "acton-pass"
    acton_client_id: str = "acton-client"
    acton_client_secret: str = "acton-client-secret"
    #: how long a faulted request hangs before its answer (`timeout` faults)
    hang_s: float = 30.0

    def validate(self) -> LeadSimConfig:
        for name, value in self.__dict__.items():
            if isinstance(value, str) and not value:
                raise LeadSimConfigError(f"{name} must not be empty")
        if self.cognito_token_ttl_s < 1:
            raise LeadSimConfigError("cognito_token_ttl_s must be at least 1")
        if self.hang_s <= 0:
            raise LeadSimConfigError("hang_s must be positive")
        return self
