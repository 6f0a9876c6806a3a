from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.segments import GSM7_BASIC, GSM7_EXTENSION, analyze

# --- an independent reference: encode for real, then cut into segments ---------

# GSM 03.38 default alphabet in code order; "\x1b" (ESC) sits at 0x1B.
_GSM_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_GSM_EXT = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}


def _gsm_septets(text: str) -> list[int] | None:
    out: list[int] = []
    for ch in text:
        if ch in _GSM_EXT:
            out += [0x1B, _GSM_EXT[ch]]
        elif ch != "\x1b" and ch in _GSM_TABLE:
            out.append(_GSM_TABLE.index(ch))
        else:
            return None
    return out


def _reference(text: str) -> tuple[str, int, int, int]:
    septets = _gsm_septets(text)
    if septets is not None:
        enc, units, single, multi = "GSM-7", septets, 160, 153

        def is_lead(u: int) -> bool:
            return u == 0x1B
    else:
        raw = text.encode("utf-16-be", "surrogatepass")
        units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
        enc, single, multi = "UCS-2", 70, 67

        def is_lead(u: int) -> bool:
            return 0xD800 <= u <= 0xDBFF

    if not units:
        return enc, 0, 0, single
    if len(units) <= single:
        return enc, len(units), 1, single - len(units)
    chunks: list[list[int]] = []
    i = 0
    while i < len(units):
        end = min(i + multi, len(units))
        if end < len(units) and is_lead(units[end - 1]):
            end -= 1
        chunks.append(units[i:end])
        i = end
    return enc, len(units), len(chunks), multi - len(chunks[-1])


def test_reference_alphabet_matches_module() -> None:
    assert set(_GSM_TABLE) - {"\x1b"} == GSM7_BASIC
    assert set(_GSM_EXT) == GSM7_EXTENSION
    assert len(_GSM_TABLE) == 128


@pytest.mark.parametrize(
    ("text", "encoding", "length", "segments", "per_segment", "chars_left"),
    [
        ("", "GSM-7", 0, 0, 160, 160),
        ("Hi there", "GSM-7", 8, 1, 160, 152),
        ("a" * 160, "GSM-7", 160, 1, 160, 0),
        ("a" * 161, "GSM-7", 161, 2, 153, 145),
        ("a" * 306, "GSM-7", 306, 2, 153, 0),
        ("a" * 307, "GSM-7", 307, 3, 153, 152),
        ("€" * 80, "GSM-7", 160, 1, 160, 0),
        ("{}", "GSM-7", 4, 1, 160, 156),
        # 81 two-septet characters: 76 fit in the first 153 septets, 5 follow.
        ("€" * 81, "GSM-7", 162, 2, 153, 143),
        # An escape sequence is not split: the 153rd septet stays empty.
        ("a" * 152 + "^" + "b" * 10, "GSM-7", 164, 2, 153, 141),
        ("Ça va", "GSM-7", 5, 1, 160, 155),
        ("ça va", "UCS-2", 5, 1, 70, 65),
        ("😀", "UCS-2", 2, 1, 70, 68),
        ("😀" * 35, "UCS-2", 70, 1, 70, 0),
        ("😀" * 36, "UCS-2", 72, 2, 67, 61),
        ("a" * 66 + "😀" + "b" * 3, "UCS-2", 71, 2, 67, 62),
        ("x" * 70 + "’", "UCS-2", 71, 2, 67, 63),
    ],
)
def test_known_values(
    text: str, encoding: str, length: int, segments: int, per_segment: int, chars_left: int
) -> None:
    info = analyze(text)
    assert (info.encoding, info.length, info.segments, info.per_segment, info.chars_left) == (
        encoding,
        length,
        segments,
        per_segment,
        chars_left,
    )


def test_non_gsm_lists_culprits_once_in_order() -> None:
    assert analyze("ça 😀 ça").non_gsm == ("ç", "😀")
    assert analyze("plain [text]").non_gsm == ()


_SPECIAL = st.sampled_from(
    [
        "€",
        "^",
        "{",
        "}",
        "\\",
        "[",
        "~",
        "]",
        "|",
        "\f",
        "😀",
        "👍🏽",
        "🇺🇸",
        "ç",
        "’",
        "漢",
        "é",
        "Ω",
    ]
)
_GSM_ONLY = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=400)
_MIXED = st.lists(st.one_of(st.sampled_from(sorted(GSM7_BASIC)), _SPECIAL), max_size=400).map(
    "".join
)


@settings(deadline=None)
@given(st.one_of(_GSM_ONLY, _MIXED, st.text(max_size=300)))
def test_matches_reference(text: str) -> None:
    info = analyze(text)
    assert (info.encoding, info.length, info.segments, info.chars_left) == _reference(text)
    assert 0 <= info.chars_left <= info.per_segment
    assert (
        info.per_segment
        == {("GSM-7", True): 160, ("GSM-7", False): 153, ("UCS-2", True): 70, ("UCS-2", False): 67}[
            (info.encoding, info.segments <= 1)
        ]
    )


@settings(deadline=None)
@given(_GSM_ONLY)
def test_gsm_segment_bounds(text: str) -> None:
    info = analyze(text)
    if info.segments > 1:
        # Packing can waste at most one septet per segment.
        assert -(-info.length // 153) <= info.segments <= -(-info.length // 152)
