"""The simulated systems' state: plain objects with their own locks, driven by the
routes and by tests alike (nothing here knows HTTP)."""

from __future__ import annotations

from app.sandbox.lead_systems_sim.config import LeadSimConfig
from app.sandbox.lead_systems_sim.state.crm import DhqData, RlmData
from app.sandbox.lead_systems_sim.state.forms import ActOnData, BotpressData, FloorForceData
from app.sandbox.lead_systems_sim.state.log import ReceivedLog
from app.sandbox.lead_systems_sim.state.nexus import CognitoTokens, NexusData


class LeadSystemsState:
    def __init__(self, config: LeadSimConfig) -> None:
        self.config = config
        self.received = ReceivedLog()
        self.nexus = NexusData()
        self.cognito = CognitoTokens(config.cognito_token_ttl_s)
        self.botpress = BotpressData()
        self.rlm = RlmData()
        self.dhq = DhqData()
        self.acton = ActOnData()
        self.floorforce = FloorForceData()

    def reset(self) -> None:
        self.received.clear()
        self.nexus.clear()
        self.cognito.clear(self.config.cognito_token_ttl_s)
        self.botpress.clear()
        self.rlm.clear()
        self.dhq.clear()
        self.acton.clear()
        self.floorforce.clear()


__all__ = ["LeadSystemsState"]
