"""The simulated Twilio account, one module per resource behind one `SimState`."""

from app.sandbox.twilio_sim.state.facade import SimState
from app.sandbox.twilio_sim.state.inputs import is_e164
from app.sandbox.twilio_sim.state.lookups import LineTypeError

__all__ = ["LineTypeError", "SimState", "is_e164"]
