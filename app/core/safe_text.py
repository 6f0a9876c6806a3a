"""Text a stranger typed, made safe to store, show and text back.

Public API:

- ``unsafe_character(text, *, multiline=False) -> str | None``: a short
  description of the first character a name or text must not hold, or
  ``None``. Refused: control characters (``Cc``: NUL, ESC, DEL, C1 controls...;
  ``multiline`` allows tab, line feed and carriage return, which messages and
  notes may contain), the bidirectional embedding, override and isolate
  controls (U+202A-U+202E, U+2066-U+2069: they make "gnp.exe" read as
  "exe.png"), and the line and paragraph separators U+2028/U+2029 outside
  ``multiline`` texts.
- ``greeting_name(full_name) -> str``: the first name the greeting texts back:
  the first word of a name of at most ``MAX_NAME_WORDS`` words when it is a plain
  word (Unicode letters, apostrophes, hyphens) and no word of the name looks like
  a link, an address or a price (``/ @ : $``, ``www.``), else ``"there"``. Words are split on every
  Unicode space (non-breaking, figure, ideographic...), so a "name" written
  with non-breaking spaces is the sentence it is, never one long word: a link,
  a price or a sentence never reaches a customer's phone in our greeting.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: bidirectional embeddings/overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI)
BIDI_CONTROLS: Final[frozenset[str]] = frozenset(
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
_LINE_SEPARATORS: Final[frozenset[str]] = frozenset({"\u2028", "\u2029"})
_MULTILINE_CONTROLS: Final[frozenset[str]] = frozenset({"\t", "\n", "\r"})

#: a name longer than this many words is a sentence, not a name
MAX_NAME_WORDS: Final = 4
#: a first name longer than this is not one we text back
MAX_FIRST_NAME: Final = 30
FALLBACK_NAME: Final = "there"

_APOSTROPHES_HYPHENS: Final = "'\u2019-\u2010\u2011"
# a name holding one of these is a link, an e-mail address or a price, not a name
_LINKISH = re.compile(r"[/@:$]|www\.", re.IGNORECASE)


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """What makes `text` unsafe (e.g. ``"control character U+001B"``), or None."""
    for ch in text:
        if multiline and ch in _MULTILINE_CONTROLS:
            continue
        if ch in BIDI_CONTROLS:
            return f"bidirectional control character U+{ord(ch):04X}"
        if not multiline and ch in _LINE_SEPARATORS:
            return f"line separator U+{ord(ch):04X}"
        if unicodedata.category(ch) == "Cc":
            return f"control character U+{ord(ch):04X}"
    return None


def _is_plain_word(word: str) -> bool:
    """Letters (any script, with their combining marks), apostrophes and hyphens,
    starting with a letter."""
    if not word or not word[0].isalpha():
        return False
    return all(
        ch.isalpha() or ch in _APOSTROPHES_HYPHENS or unicodedata.category(ch).startswith("M")
        for ch in word
    )


def greeting_name(full_name: str | None) -> str:
    """The first name to greet (see the module doc), or "there"."""
    words = (full_name or "").split()  # str.split() splits on every Unicode space
    if not words or len(words) > MAX_NAME_WORDS:
        return FALLBACK_NAME
    if any(_LINKISH.search(w) for w in words):
        return FALLBACK_NAME
    first = words[0]
    if not _is_plain_word(first) or len(first) > MAX_FIRST_NAME:
        return FALLBACK_NAME
    return first
