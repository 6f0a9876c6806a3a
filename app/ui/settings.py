"""Per-PC settings (templates, kiosk idle lock); the dialog is in `settings_dialog`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class Template(NamedTuple):
    """A reply template (merge fields such as {first_name}, see app.core.templates)."""

    name: str
    body: str


DEFAULT_TEMPLATES = [
    Template(
        "Greeting",
        "Hi {first_name}, this is {staff_name} from {location_name}. "
        "Thanks for reaching out! How can I help?",
    ),
    Template(
        "Visit",
        "Hi {first_name}, would you like to stop by {location_name} this week? "
        "We'd be happy to show you options in person.",
    ),
]


@dataclass
class Settings:
    templates: list[Template] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))
    idle_lock_minutes: int = 5

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        s = cls()
        if isinstance(raw.get("templates"), list):
            s.templates = [
                Template(str(t.get("name", "")), str(t.get("body", "")))
                for t in raw["templates"]
                if isinstance(t, dict)
            ]
        if isinstance(raw.get("idle_lock_minutes"), int):
            s.idle_lock_minutes = max(1, raw["idle_lock_minutes"])
        return s

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "templates": [t._asdict() for t in self.templates],
                    "idle_lock_minutes": self.idle_lock_minutes,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        os.replace(tmp, path)

