from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.optout import (
    HELP_KEYWORDS,
    START_KEYWORDS,
    STOP_KEYWORDS,
    OptOutKind,
    classify,
    twilio_opt_out_type,
)

K = OptOutKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", K.STOP),
        ("Stop.", K.STOP),
        ("STOP!!", K.STOP),
        (" stop ", K.STOP),
        ("\tStOp\n", K.STOP),
        ("STOP 🛑", K.STOP),
        ("“stop”", K.STOP),
        ("STOPALL", K.STOP),
        ("stop all", K.STOP),
        ("Unsubscribe", K.STOP),
        ("cancel", K.STOP),
        ("END", K.STOP),
        ("quit!", K.STOP),
        ("revoke", K.STOP),
        ("OPTOUT", K.STOP),
        ("opt out", K.STOP),
        ("Opt-Out.", K.STOP),
        ("ＳＴＯＰ", K.STOP),  # full-width, NFKC folds it
        ("START", K.START),
        ("unstop", K.START),
        ("Yes!", K.START),
        ("HELP?", K.HELP),
        ("info", K.HELP),
        # Not only the keyword: not Twilio's STOP.
        ("stop by tomorrow", K.NONE),
        ("I'll stop by the store at 5", K.NONE),
        ("yes I'd like to come in Saturday", K.NONE),
        ("Can you text me the price?", K.NONE),
        ("What time do you end today?", K.NONE),
        ("Please cancel my appointment, I'll call to reschedule", K.NONE),
        ("Do you have info on the oak flooring", K.NONE),
        ("Don't forget the samples!", K.NONE),
        ("ok thanks", K.NONE),
        ("", K.NONE),
        ("   ", K.NONE),
        ("!!!", K.NONE),
        ("🛑", K.NONE),
        # Plain-language revocations: flagged for staff.
        ("please stop texting me", K.POSSIBLE_OPT_OUT),
        ("Stop sending me messages", K.POSSIBLE_OPT_OUT),
        ("don't text me anymore", K.POSSIBLE_OPT_OUT),
        ("Don’t text me anymore", K.POSSIBLE_OPT_OUT),
        ("do not contact me again", K.POSSIBLE_OPT_OUT),
        ("I don't want any more texts", K.POSSIBLE_OPT_OUT),
        ("remove me from your list", K.POSSIBLE_OPT_OUT),
        ("Take me off your list", K.POSSIBLE_OPT_OUT),
        ("delete my number", K.POSSIBLE_OPT_OUT),
        ("unsubscribe me please", K.POSSIBLE_OPT_OUT),
        ("I want to opt out", K.POSSIBLE_OPT_OUT),
        ("leave me alone", K.POSSIBLE_OPT_OUT),
        ("No more messages", K.POSSIBLE_OPT_OUT),
        ("wrong number", K.POSSIBLE_OPT_OUT),
        ("not interested, thanks", K.POSSIBLE_OPT_OUT),
        ("STOP please", K.POSSIBLE_OPT_OUT),
        ("ok stop it now!", K.POSSIBLE_OPT_OUT),
        ("Stop. Thank you", K.POSSIBLE_OPT_OUT),
        ("I revoke my consent", K.POSSIBLE_OPT_OUT),
    ],
)
def test_classify(text: str, kind: OptOutKind) -> None:
    assert classify(text) is kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stop.", "STOP"),
        ("opt out", "STOP"),
        ("start", "START"),
        ("YES", "START"),
        ("help", "HELP"),
        ("INFO!", "HELP"),
        ("please stop texting me", None),
        ("stop by tomorrow", None),
        ("hello", None),
    ],
)
def test_twilio_opt_out_type(text: str, expected: str | None) -> None:
    assert twilio_opt_out_type(text) == expected


def test_non_string_is_none() -> None:
    assert classify(None) is K.NONE  # type: ignore[arg-type]


_EXPECTED = {
    **{k: K.STOP for k in STOP_KEYWORDS},
    **{k: K.START for k in START_KEYWORDS},
    **{k: K.HELP for k in HELP_KEYWORDS},
    "opt out": K.STOP,
    "opt-out": K.STOP,
    "stop all": K.STOP,
}
_EDGE = st.text(alphabet=" \t\n.!?,;:-'\"()…¡¿*~🛑👋", max_size=6)


@st.composite
def _decorated_keyword(draw: st.DrawFn) -> tuple[str, OptOutKind]:
    word = draw(st.sampled_from(sorted(_EXPECTED)))
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    cased = "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))
    return draw(_EDGE) + cased + draw(_EDGE), _EXPECTED[word]


@settings(deadline=None)
@given(_decorated_keyword())
def test_keywords_survive_case_and_punctuation(case: tuple[str, OptOutKind]) -> None:
    text, kind = case
    assert classify(text) is kind
    assert twilio_opt_out_type(text) == kind.value


@settings(deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    kind = classify(text)
    assert isinstance(kind, OptOutKind)
    assert twilio_opt_out_type(text) in {"STOP", "START", "HELP", None}


@settings(deadline=None)
@given(
    st.sampled_from(["stop", "end", "cancel", "quit"]), st.text(alphabet="abcdefgh ", min_size=3)
)
def test_keyword_inside_a_sentence_is_never_a_twilio_stop(word: str, rest: str) -> None:
    text = f"{word} by {rest}"
    assert classify(text) is not K.STOP
