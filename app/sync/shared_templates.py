"""The engine's side of the templates a dealership shares per location.

Reading is local (the feed mirrors every saved version, `store.shared_templates`);
saving is a version-checked `PUT /v1/templates` while online, its answer (or, on a
conflict, the current list the relay sends back) stored at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from app.core.wire_team import TemplatesView
from app.sync import store
from app.sync.api import EngineError, SharedTemplate, SharedTemplates
from app.sync.client import RelayClient, RelayFinalError, RelayTransientError
from app.sync.db import Database


def from_view(view: TemplatesView | None, location_id: str) -> SharedTemplates:
    if view is None:
        return SharedTemplates(location_id)
    return SharedTemplates(
        location_id=view.location_id,
        templates=tuple(SharedTemplate(t.template_id, t.name, t.body) for t in view.templates),
        version=view.version,
        updated_by=view.updated_by,
        updated_at=view.updated_at,
    )


async def read(db: Database, location_id: str) -> SharedTemplates:
    view = await db.reader.run(store.get_shared_templates, location_id)
    return from_view(view, location_id)


async def _store(db: Database, raw: Any, location_id: str) -> SharedTemplates | None:
    try:
        view = TemplatesView.model_validate(raw)
    except ValidationError:
        return None
    await db.writer.run(store.save_shared_templates, view)
    return from_view(view, location_id)


async def save(
    db: Database,
    client: RelayClient | None,
    location_id: str,
    templates: Sequence[SharedTemplate],
    version: int,
) -> SharedTemplates:
    if client is None:
        raise EngineError("offline", "Shared templates are saved online; the relay is away")
    body = [
        {"templateId": t.template_id, "name": t.name, "body": t.body} for t in templates
    ]
    try:
        answer = await client.put_templates(location_id, body, version)
    except RelayTransientError as exc:
        raise EngineError("offline", f"The relay did not answer ({exc}); try again") from exc
    except RelayFinalError as exc:
        if exc.reason == "version_conflict":
            await _store(db, exc.body.get("current"), location_id)
        raise EngineError(exc.reason, exc.message) from exc
    saved = await _store(db, answer, location_id)
    if saved is None:
        raise EngineError("relay_bad_answer", "The relay answered with malformed templates")
    return saved
