"""The lead-systems simulator's FastAPI app: Nexus (+ Cognito), Botpress, RLM, DHQ,
Act-On and FloorForce, each under its own path prefix, behind one faults-and-log
middleware, with the `/_sim` control plane."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.config import LeadSimConfig
from app.sandbox.lead_systems_sim.faults import FaultState
from app.sandbox.lead_systems_sim.middleware import LeadSystemsMiddleware
from app.sandbox.lead_systems_sim.routes import CONTROL_ROUTERS, SYSTEM_ROUTERS
from app.sandbox.lead_systems_sim.routes.common import ControlError
from app.sandbox.lead_systems_sim.state import LeadSystemsState


async def _on_control_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, ControlError)
    return err.response()


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_lead_systems_app(config: LeadSimConfig | None = None) -> FastAPI:
    config = (config or LeadSimConfig()).validate()
    state = LeadSystemsState(config)
    faults = FaultState()
    app = FastAPI(title="Lead systems simulator", docs_url=None, redoc_url=None)
    app.state.lead_systems = state
    app.state.lead_faults = faults
    app.add_exception_handler(ControlError, _on_control_error)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    for router in (*SYSTEM_ROUTERS, *CONTROL_ROUTERS):
        app.include_router(router)
    app.add_middleware(LeadSystemsMiddleware, state=state, faults=faults)
    return app
