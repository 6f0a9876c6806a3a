"""The lead-systems simulator's part of a demo snapshot: what seeding left in the
dealers' RLM, DealerHQ and chatbot tables, so a restored demo's lead panel and the
simulator's inspection lists (`GET /rlm/leads`, `GET /dhq/inquiries`) match the
relay's lead states. Ids stay as they were: the relay's tables refer to them."""

from __future__ import annotations

import copy
import itertools
from typing import Any


def dump(systems: Any) -> dict[str, Any]:
    """RLM's leads, mappings and keys, DHQ's inquiries and Botpress's rows."""
    state = systems.state
    with state.rlm._lock:
        rlm = {
            "leads": copy.deepcopy(state.rlm.leads),
            "mappings": copy.deepcopy(state.rlm.mappings),
            "api_keys": sorted(state.rlm.api_keys),
        }
    with state.botpress._lock:
        botpress = copy.deepcopy(state.botpress.rows)
    return {"rlm": rlm, "dhq": state.dhq.snapshot(), "botpress": botpress}


def restore(systems: Any, saved: dict[str, Any] | None) -> None:
    """Put `dump`'s result into a fresh simulator (nothing when the snapshot has none)."""
    if not saved:
        return
    state = systems.state
    rlm = saved["rlm"]
    with state.rlm._lock:
        state.rlm.leads.update(copy.deepcopy(rlm["leads"]))
        state.rlm.mappings.extend(copy.deepcopy(rlm["mappings"]))
        state.rlm.api_keys.update(rlm["api_keys"])
        # new leads take ids after the restored ones
        last = max((int(lead["lead_id"]) for lead in rlm["leads"].values()), default=1000)
        state.rlm._ids = itertools.count(last + 1)
    with state.dhq._lock:
        state.dhq.inquiries.extend(copy.deepcopy(saved["dhq"]))
    with state.botpress._lock:
        for table, rows in saved["botpress"].items():
            state.botpress.rows.setdefault(table, []).extend(copy.deepcopy(rows))
