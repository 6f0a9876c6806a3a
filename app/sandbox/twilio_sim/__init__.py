"""A stateful Twilio simulator: Conversations v1 with scoped webhooks, Lookup v2 and
the Messaging Service pool, driven by the real twilio SDK through each domain's
`base_url`. See docs/sandbox.md."""

from app.sandbox.twilio_sim.app import create_sim_app
from app.sandbox.twilio_sim.config import SimConfig, SimConfigError
from app.sandbox.twilio_sim.control import SimControl, SimControlError
from app.sandbox.twilio_sim.runtime import SimRuntime
from app.sandbox.twilio_sim.server import SimHandle, start_simulator
from app.sandbox.twilio_sim.webhooks import compute_signature

__all__ = [
    "SimConfig",
    "SimConfigError",
    "SimControl",
    "SimControlError",
    "SimHandle",
    "SimRuntime",
    "compute_signature",
    "create_sim_app",
    "start_simulator",
]
