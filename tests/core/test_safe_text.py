from __future__ import annotations

import pytest

from app.core.lead_schema import LeadValidationError, parse_create_request
from app.core.phones import region_of
from app.core.relay_url import InsecureRelayUrl, check_relay_url
from app.core.safe_text import BIDI_CONTROLS, greeting_name, unsafe_character

LEAD_ID = "5f0c6a0e-0d52-4a57-9a4a-6f6f1d3c1a11"
RETAILER = "1b6b7c1e-6d0f-4c53-9bb3-2b1b5c0d7e21"
LOCATION = "9d1f0a4e-3a1f-4f6e-8a2c-3c1b2a0d4e55"


@pytest.mark.parametrize("ch", sorted(BIDI_CONTROLS))
def test_every_bidi_control_is_refused(ch: str) -> None:
    assert unsafe_character(f"a{ch}b") == f"bidirectional control character U+{ord(ch):04X}"
    assert unsafe_character(f"a{ch}b", multiline=True) is not None


@pytest.mark.parametrize("ch", ["\x00", "\x1b", "\x7f", "\x85", "\x9b", "\t", "\n", "\r"])
def test_control_characters_are_refused_in_one_line(ch: str) -> None:
    assert unsafe_character(f"a{ch}b") == f"control character U+{ord(ch):04X}"


def test_a_multiline_text_keeps_tabs_and_line_breaks() -> None:
    assert unsafe_character("one\r\ntwo\tthree", multiline=True) is None
    assert unsafe_character("one\u2028two", multiline=True) is None
    assert unsafe_character("one\u2028two") is not None
    assert unsafe_character("one\x1btwo", multiline=True) is not None


def test_ordinary_text_is_safe() -> None:
    for text in ("Zoë O'Brien", "李小龙", "مرحبا", "Ünïcödé – “quotes” 😀", "\u200fRLM mark"):
        assert unsafe_character(text) is None, text


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Ann Lee", "Ann"),
        ("  ann  ", "ann"),
        ("Mary-Jane O'Neil", "Mary-Jane"),
        ("D’Angelo Russell", "D’Angelo"),
        ("Zoë", "Zoë"),
        ("Zoe\u0308 Smith", "Zoe\u0308"),  # a combining diaeresis
        ("李 小龙", "李"),
        ("Ann\u00a0Lee", "Ann"),
        ("Ann B. Lee", "Ann"),
        ("Sam Q0142", "Sam"),
        ("", "there"),
        ("   ", "there"),
        ("Pay\u00a0$1.99\u00a0at\u00a0https://evil.example/p", "there"),
        ("https://evil.example", "there"),
        ("www.evil.example", "there"),
        ("ann@example.com", "there"),
        ("R2D2", "there"),
        ("-Ann", "there"),
        ("'Ann", "there"),
        ("One Two Three Four Five", "there"),
        ("Dr. Smith", "there"),
        ("A" * 31, "there"),
        ("Ann\u200bLee", "there"),
    ],
)
def test_the_greeting_name_is_a_plain_word_or_there(name: str, first: str) -> None:
    assert greeting_name(name) == first


def _body(**lead: object) -> dict[str, object]:
    base: dict[str, object] = {
        "LocationId": LOCATION,
        "PageUrl": "https://a.example/p",
        "Name": "Ann",
        "PhoneNumber": "+13125550134",
        "CustomerMessage": "Hi",
    }
    base.update(lead)
    return {"UniversalRetailerId": RETAILER, "Lead": base}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Name", "Ann\u202e"),
        ("Name", "Ann\nLee"),
        ("CustomerMessage", "a\x00b"),
        ("PageUrl", "https://a.example/\u202egnp"),
        ("AssociatedProductInfo", {"Product": "rug\x1b"}),
        ("Traffic", {"Campaign": "x\u2067"}),
    ],
)
def test_the_lead_parser_refuses_them_with_invalid_field(field: str, value: object) -> None:
    with pytest.raises(LeadValidationError) as err:
        parse_create_request(LEAD_ID, _body(**{field: value}))
    assert err.value.code == "invalid_field"
    assert " is INVALID - " in err.value.message


def test_the_lead_parser_keeps_a_messages_line_breaks() -> None:
    req = parse_create_request(LEAD_ID, _body(CustomerMessage="Hi,\r\n\tgrey?"))
    assert req.customer_message == "Hi,\r\n\tgrey?"


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+13125550134", "US"),
        ("+14165550134", "CA"),
        ("+18765550134", "JM"),
        ("+12642351234", "AI"),
        ("+447400123456", "GB"),
        ("not a number", None),
    ],
)
def test_region_of(phone: str, region: str | None) -> None:
    assert region_of(phone) == region


@pytest.mark.parametrize(
    "url",
    [
        "https://relay.example.com",
        "https://relay.example.com/",
        "http://127.0.0.1:8080",
        "http://127.1.2.3",
        "http://localhost:9",
        "http://[::1]:9",
    ],
)
def test_relay_urls_a_key_may_go_to(url: str) -> None:
    assert check_relay_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://relay.example.com", "insecure_relay_url"),
        ("http://10.0.0.1", "insecure_relay_url"),
        ("http://localhost.evil.example", "insecure_relay_url"),
        ("http://127.0.0.1.nip.io", "insecure_relay_url"),
        ("ftp://relay.example.com", "relay_url_invalid"),
        ("relay.example.com", "relay_url_invalid"),
        ("", "relay_url_invalid"),
        ("http://[::1", "relay_url_invalid"),
    ],
)
def test_relay_urls_a_key_never_goes_to(url: str, reason: str) -> None:
    with pytest.raises(InsecureRelayUrl) as err:
        check_relay_url(url)
    assert err.value.reason == reason
