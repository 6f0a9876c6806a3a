from tests.support.lead_systems import _lead_systems_server, lead_systems  # noqa: F401
from tests.support.twilio_sim import (  # noqa: F401
    _twilio_sim_server,
    _webhook_recorder_server,
    twilio_sim,
    webhook_recorder,
)
