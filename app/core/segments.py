"""SMS segment arithmetic: GSM-7 versus UCS-2, segment count, characters left.

Public API:

- ``analyze(text) -> SegmentInfo``: how ``text`` travels as SMS.
- ``SegmentInfo``: ``encoding`` ("GSM-7" or "UCS-2"), ``length`` (septets for
  GSM-7, where the extension characters ``^{}\\[~]|€`` and form feed count 2;
  UTF-16 code units for UCS-2, where an emoji counts 2), ``segments`` (0 for
  empty text), ``per_segment`` (160/153 for GSM-7, 70/67 for UCS-2: a single
  segment holds the larger figure, a concatenated message loses room to its
  header), ``chars_left`` (room left in the current segment, in the same unit
  as ``length``), ``non_gsm`` (the characters that forced UCS-2).
- ``GSM7_BASIC``, ``GSM7_EXTENSION``: the GSM 03.38 character sets.

A two-unit character (an escape sequence, a surrogate pair) is never split
across two segments, as handsets and Twilio do; a concatenated segment can
therefore hold one unit fewer than 153/67. Twilio's optional "smart
encoding" (curly quotes to straight ones) is not modelled: the count is for
the text as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

_LIMITS: Final[dict[str, tuple[int, int]]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Encoding
    length: int
    segments: int
    per_segment: int
    chars_left: int
    non_gsm: tuple[str, ...] = field(default=())


def _is_gsm7(ch: str) -> bool:
    return ch in GSM7_BASIC or ch in GSM7_EXTENSION


def _units(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    # Characters outside the Basic Multilingual Plane take a UTF-16 surrogate pair.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def analyze(text: str) -> SegmentInfo:
    """Encoding, length, segment count and room left for ``text`` sent as one SMS."""
    non_gsm = tuple(dict.fromkeys(ch for ch in text if not _is_gsm7(ch)))
    encoding: Encoding = "UCS-2" if non_gsm else "GSM-7"
    single, multi = _LIMITS[encoding]
    units = _units(text, encoding)
    length = sum(units)
    if length == 0:
        return SegmentInfo(encoding, 0, 0, single, single, non_gsm)
    if length <= single:
        return SegmentInfo(encoding, length, 1, single, single - length, non_gsm)
    segments, used = 1, 0
    for unit in units:
        if used + unit > multi:
            segments, used = segments + 1, 0
        used += unit
    return SegmentInfo(encoding, length, segments, multi, multi - used, non_gsm)
