"""The connectors of one relay process (`RelayContext.connectors`): the configured
systems' clients and integrations, in the original's order, and the lookups they
share (Nexus or the local directory)."""

from __future__ import annotations

from typing import Any

from app.relay.cache import TtlCache
from app.relay.connectors.botpress import BotpressClient, BotpressIntegration
from app.relay.connectors.dhq import DhqClient, DhqIntegration
from app.relay.connectors.directory_settings import local_store, retailer_rlm_key
from app.relay.connectors.forms import (
    ActOnClient,
    ActOnIntegration,
    FloorForceClient,
    FloorForceIntegration,
)
from app.relay.connectors.http import ConnectorHttp, ConnectorStats, RetryPolicy
from app.relay.connectors.nexus import NexusClient
from app.relay.connectors.nexus_directory import DirectorySource, LocalDirectory, NexusDirectory
from app.relay.connectors.rlm import RlmClient, RlmIntegration
from app.relay.connectors.settings import ConnectorSettings
from app.relay.directory import Location, Retailer


class Connectors:
    """Built once per process from `Settings.connectors`; a system that is not
    configured has no integration here (it never runs, and leaves no state)."""

    def __init__(
        self,
        settings: ConnectorSettings | None,
        *,
        directory_cache: TtlCache[Retailer | Location],
        cache_ttl_s: float = 15.0,
    ) -> None:
        self.settings = settings or ConnectorSettings()
        self.stats = ConnectorStats()
        s = self.settings
        self._policy = RetryPolicy(s.max_attempts, s.backoff_s, s.backoff_max_s)
        self._clients: list[ConnectorHttp] = []
        self.nexus = (
            NexusClient(s.nexus, self._http("Nexus", s.nexus.timeout_s)) if s.nexus else None
        )
        local = LocalDirectory(directory_cache, cache_ttl_s)
        #: where retailers and locations come from: Nexus when configured, else local
        self.directory: DirectorySource = local
        if self.nexus is not None:
            self.directory = NexusDirectory(self.nexus, local, s.nexus_cache_ttl_s)
        self.integrations: list[Any] = []
        if s.botpress:
            client = BotpressClient(s.botpress, self._http("Botpress", s.botpress.timeout_s))
            self.integrations.append(BotpressIntegration(client))
        if s.rlm:
            rlm = RlmClient(s.rlm, self._http("RLM", s.rlm.timeout_s))
            self.integrations.append(RlmIntegration(rlm, self))
        if s.dhq:
            self.integrations.append(
                DhqIntegration(DhqClient(s.dhq, self._http("DHQ", s.dhq.timeout_s)), self)
            )
        if s.acton:
            acton = ActOnClient(s.acton, self._http("ActOn", s.acton.timeout_s))
            self.integrations.append(ActOnIntegration(acton))
        if s.floorforce:
            ff = FloorForceClient(s.floorforce, self._http("FloorForce", s.floorforce.timeout_s))
            self.integrations.append(FloorForceIntegration(ff))

    def _http(self, system: str, timeout_s: float) -> ConnectorHttp:
        timeout = self.settings.timeout_override_s or timeout_s
        http = ConnectorHttp(system, timeout, self._policy, self.stats)
        self._clients.append(http)
        return http

    def budget_s(self, system: str) -> float:
        """How long a live holder may take over one call to `system` (see `once`)."""
        budgets = [h.budget_s for h in self._clients if h.system == system]
        return max(budgets) if budgets else 120.0

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.integrations]

    def follows_transcript(self) -> bool:
        """Some configured connector notes the conversation's messages (RLM, DHQ)."""
        return any(i.name in ("RLM", "DHQ") for i in self.integrations)

    def store(self, tables: Any, location_id: str) -> dict[str, Any] | None:
        """The lead's store as Nexus describes it (`universal_id`, `street_address`,
        `location_name`, ...): from Nexus's AWS API when configured, else from the
        local directory. Raises `CallFailed` when Nexus cannot answer."""
        if self.nexus is not None and self.nexus.token is not None:
            return self.nexus.store(location_id)
        return local_store(tables, location_id)

    def rlm_api_key(self, tables: Any, retailer_id: str) -> str | None:
        """`RLM_API_KEY_OVERRIDE`, else the retailer's key in the local directory
        (`admin set-retailer --rlm-api-key`), else Nexus's `rlm_api_key`."""
        rlm = self.settings.rlm
        if rlm is not None and rlm.api_key_override:
            return rlm.api_key_override
        local = retailer_rlm_key(tables, retailer_id)
        if local or self.nexus is None:
            return local
        retailer = self.nexus.retailer(retailer_id) or {}
        key = retailer.get("rlm_api_key")
        return str(key) if key else None

    def close(self) -> None:
        for http in self._clients:
            http.close()

