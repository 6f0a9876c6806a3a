"""Opt-out language in inbound texts.

Public API:

- ``classify(text) -> OptOutKind``: ``STOP``, ``START``, ``HELP``,
  ``POSSIBLE_OPT_OUT`` or ``NONE``.
- ``twilio_opt_out_type(text) -> "STOP" | "START" | "HELP" | None``: the value
  Twilio puts in the inbound webhook's ``OptOutType`` for this body.
- ``STOP_KEYWORDS``, ``START_KEYWORDS``, ``HELP_KEYWORDS``: the keyword sets.

Keywords follow CTIA and Twilio's defaults (advanced opt-out): STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT and "opt out" opt out; START,
UNSTOP and YES opt back in; HELP and INFO ask for help. With Twilio semantics
the whole message must be the keyword: case, surrounding whitespace and
surrounding punctuation or symbols are ignored ("Stop.", "STOP!!", " stop ",
"STOP 🛑"), and spaces, hyphens, dots or underscores inside it too ("opt-out",
"Stop all"). "stop by tomorrow" is not a STOP.

Plain-language revocations ("please stop texting me", "don't text me
anymore", "remove me from your list", "unsubscribe me please", "leave me
alone", "wrong number", a keyword with only courtesy words around it such as
"stop please") are ``POSSIBLE_OPT_OUT``: nothing is sent automatically, staff
confirm. The phrase list leans towards flagging, because a missed revocation
costs more than a banner staff dismiss.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final, Literal

TwilioOptOutType = Literal["STOP", "START", "HELP"]


class OptOutKind(StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    POSSIBLE_OPT_OUT = "POSSIBLE_OPT_OUT"
    NONE = "NONE"


STOP_KEYWORDS: Final[frozenset[str]] = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
START_KEYWORDS: Final[frozenset[str]] = frozenset({"start", "unstop", "yes"})
HELP_KEYWORDS: Final[frozenset[str]] = frozenset({"help", "info"})

_KEYWORD_KIND: Final[dict[str, OptOutKind]] = {
    **{k: OptOutKind.STOP for k in STOP_KEYWORDS},
    **{k: OptOutKind.START for k in START_KEYWORDS},
    **{k: OptOutKind.HELP for k in HELP_KEYWORDS},
}

# Words that do not change what a bare keyword means ("STOP please", "ok stop thanks").
_COURTESY: Final[frozenset[str]] = frozenset(
    {
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "now",
        "ok",
        "okay",
        "just",
        "it",
        "me",
        "all",
        "asap",
        "already",
        "sir",
        "maam",
        "no",
        "again",
    }
)

_INNER_JOINERS = re.compile(r"[\s\-_.]+")
_WORDS = re.compile(r"[a-z0-9']+")

_POSSIBLE_PATTERNS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(p)
    for p in (
        r"\b(?:stop|quit|cease|end)\s+(?:texting|txting|messaging|msging|sending|contacting"
        r"|spamming|bothering|harassing)\b",
        r"\b(?:stop|no\s+more|no\s+further|end)\s+(?:the\s+|your\s+|these\s+|all\s+)?"
        r"(?:texts|txts|messages|msgs|sms|contact)\b",
        r"\b(?:don'?t|do\s+not|never|no\s+longer)\s+(?:want\s+(?:to\s+be\s+)?)?"
        r"(?:text|txt|message|msg|sms|contact)\w*\b",
        r"\b(?:don'?t|do\s+not)\s+want\s+(?:any\s+more\s+|anymore\s+|more\s+|your\s+)?"
        r"(?:texts|txts|messages|msgs)\b",
        r"\bremove\s+me\b",
        r"\btake\s+me\s+off\b",
        r"\b(?:remove|delete|erase|lose)\s+(?:my|this)\s+(?:phone\s+)?"
        r"(?:number|phone|info|information|details)\b",
        r"\bunsubscribe\b",
        r"\bopt(?:ing)?[\s\-]*out\b",
        r"\brevoke\b",
        r"\bleave\s+me\s+alone\b",
        r"\bwrong\s+(?:number|person)\b",
        r"\bnot\s+interested\b",
    )
)


def _is_edge_noise(ch: str) -> bool:
    # Punctuation, symbols (emoji included), separators and control characters.
    return unicodedata.category(ch)[0] in "PSZC"


def _normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.replace("\u2019", "'").replace("\u2018", "'")


def _strip_edges(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return text[start:end]


def _keyword_kind(normalised: str) -> OptOutKind | None:
    core = _INNER_JOINERS.sub("", _strip_edges(normalised))
    return _KEYWORD_KIND.get(core)


def classify(text: str) -> OptOutKind:
    """What an inbound message means for consent; never raises on any ``str``."""
    if not isinstance(text, str):
        return OptOutKind.NONE
    normalised = _normalise(text)
    kind = _keyword_kind(normalised)
    if kind is not None:
        return kind
    words = [w.replace("'", "") for w in _WORDS.findall(normalised)]
    meaningful = {w for w in words if w not in _COURTESY}
    if len(meaningful) == 1 and meaningful <= STOP_KEYWORDS:
        return OptOutKind.POSSIBLE_OPT_OUT
    if any(p.search(normalised) for p in _POSSIBLE_PATTERNS):
        return OptOutKind.POSSIBLE_OPT_OUT
    return OptOutKind.NONE


def twilio_opt_out_type(text: str) -> TwilioOptOutType | None:
    """``OptOutType`` as Twilio's advanced opt-out would set it for this body."""
    kind = classify(text)
    if kind is OptOutKind.STOP:
        return "STOP"
    if kind is OptOutKind.START:
        return "START"
    if kind is OptOutKind.HELP:
        return "HELP"
    return None
