"""Message templates with merge fields.

Public API:

- ``render(template, values) -> str``: replace ``{first_name}``,
  ``{last_name}``, ``{location_name}`` and ``{staff_name}`` with ``values``.
  A missing, ``None`` or blank value takes its fallback (``FALLBACKS``):
  "there" for first_name ("Hi there"), "" for last_name (the space it leaves
  is tidied: "Hi {first_name} {last_name}," gives "Hi Ann,"), "our store"
  for location_name, "our team" for staff_name. ``{{`` and ``}}`` are literal
  braces. Keys of ``values`` that are not merge fields are ignored.
- ``fields(template) -> list[str]``: merge fields used, in order, without repeats.
- ``split_name(full_name) -> (first, last)``: "Ann Marie Lee" gives
  ("Ann", "Marie Lee"), "Lee, Ann" gives ("Ann", "Lee"); a leading title
  (Mr, Mrs, Ms, Dr, ...) is dropped.
- ``TemplateError`` (a ``ValueError``): ``reason`` is ``"unknown_merge_field"``
  (``field`` names it) or ``"malformed_template"`` (a lone or unclosed brace,
  an empty ``{}``); ``position`` is the offset in the template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

MERGE_FIELDS: Final[tuple[str, ...]] = ("first_name", "last_name", "location_name", "staff_name")
FALLBACKS: Final[dict[str, str]] = {
    "first_name": "there",
    "last_name": "",
    "location_name": "our store",
    "staff_name": "our team",
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_TITLES: Final[frozenset[str]] = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})
# Characters that should hug the word before them once an empty field disappears.
_CLOSERS = ",.;:!?)"


class TemplateError(ValueError):
    def __init__(
        self, reason: str, message: str, *, field: str | None = None, position: int = 0
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.position = position


@dataclass(frozen=True, slots=True)
class _Literal:
    text: str


@dataclass(frozen=True, slots=True)
class _Field:
    name: str


def _tokens(template: str) -> Iterator[_Literal | _Field]:
    if not isinstance(template, str):
        raise TemplateError("malformed_template", "Template must be text")
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            yield _Literal(template[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            yield _Literal(token[0])
        elif token in ("{", "}"):
            raise TemplateError(
                "malformed_template",
                f"Unmatched '{token}' at position {match.start()}; write '{token * 2}' "
                "for a literal brace",
                position=match.start(),
            )
        else:
            name = (match.group(1) or "").strip()
            if not name:
                raise TemplateError(
                    "malformed_template",
                    f"Empty merge field '{{}}' at position {match.start()}",
                    position=match.start(),
                )
            if name not in MERGE_FIELDS:
                known = ", ".join("{" + f + "}" for f in MERGE_FIELDS)
                raise TemplateError(
                    "unknown_merge_field",
                    f"Unknown merge field {{{name}}}; use one of {known}",
                    field=name,
                    position=match.start(),
                )
            yield _Field(name)
    if pos < len(template):
        yield _Literal(template[pos:])


def fields(template: str) -> list[str]:
    """Merge fields used by ``template`` (validated), in order of first use."""
    seen: dict[str, None] = {}
    for token in _tokens(template):
        if isinstance(token, _Field):
            seen.setdefault(token.name)
    return list(seen)


def _value(values: Mapping[str, str | None], name: str) -> str:
    raw = values.get(name)
    text = " ".join(raw.split()) if isinstance(raw, str) else ""
    return text or FALLBACKS[name]


def render(template: str, values: Mapping[str, str | None]) -> str:
    """Fill ``template``'s merge fields from ``values`` (fallbacks for blanks)."""
    out = ""
    after_empty = False  # just dropped an empty value: tidy the whitespace around it
    removed_space = False
    for token in _tokens(template):
        text = token.text if isinstance(token, _Literal) else _value(values, token.name)
        if isinstance(token, _Field) and not text:
            # An empty value must not leave "Hi Ann , " or a double space behind.
            trimmed = out.rstrip(" \t")
            removed_space = removed_space or trimmed != out
            out, after_empty = trimmed, True
            continue
        if after_empty:
            stripped = text.lstrip(" \t")
            removed_space = removed_space or stripped != text
            if not stripped:
                continue
            # One space still separates two words: "Dear {last_name} family".
            if removed_space and out and out[-1] != "\n" and stripped[0] not in _CLOSERS + "\n":
                out += " "
            text, after_empty, removed_space = stripped, False, False
        out += text
    return out


def split_name(full_name: str | None) -> tuple[str, str]:
    """Split a full name into (first, last); blanks give ("", "")."""
    if not isinstance(full_name, str):
        return "", ""
    text = " ".join(full_name.split())
    if "," in text:
        last, _, first = text.partition(",")
        first, last = first.strip(), last.strip()
        text = f"{first} {last}" if first and last else first or last
    words = text.split(" ") if text else []
    if len(words) > 1 and words[0].rstrip(".").casefold() in _TITLES:
        words = words[1:]
    if not words:
        return "", ""
    return words[0], " ".join(words[1:])
