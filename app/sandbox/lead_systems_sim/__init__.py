"""Simulated lead-tracking systems: Nexus (+ its Cognito token endpoint), Botpress,
RLM, DealerHQ, Act-On and FloorForce, for the relay's connectors, the tests and the
demo. See docs/sandbox.md."""

from app.sandbox.fault_fields import FaultError
from app.sandbox.lead_systems_sim.app import create_lead_systems_app
from app.sandbox.lead_systems_sim.config import LeadSimConfig, LeadSimConfigError
from app.sandbox.lead_systems_sim.control import LeadSimControl, LeadSimControlError
from app.sandbox.lead_systems_sim.faults import SYSTEMS
from app.sandbox.lead_systems_sim.server import (
    LeadSystemsHandle,
    relay_env,
    start_lead_systems_sim,
)

__all__ = [
    "SYSTEMS",
    "FaultError",
    "LeadSimConfig",
    "LeadSimConfigError",
    "LeadSimControl",
    "LeadSimControlError",
    "LeadSystemsHandle",
    "create_lead_systems_app",
    "relay_env",
    "start_lead_systems_sim",
]
