"""One router per simulated system, plus the `/_sim` control plane."""

from app.sandbox.lead_systems_sim.routes import botpress, control, dhq, forms, nexus, rlm

SYSTEM_ROUTERS = (nexus.router, botpress.router, rlm.router, dhq.router, forms.router)
CONTROL_ROUTERS = (control.router,)

__all__ = ["CONTROL_ROUTERS", "SYSTEM_ROUTERS"]
