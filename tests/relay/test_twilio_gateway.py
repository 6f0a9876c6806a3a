"""`TwilioGateway.create_checked`: a create whose outcome is unknown (a transient
failure after Twilio may have acted) is repeated only once a look found nothing;
when the look itself fails, nothing is created again (a later retry looks first)."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from app.relay.twilio_client import TwilioGateway
from tests.support.relay import relay_settings


def _gateway() -> TwilioGateway:
    settings = relay_settings("http://127.0.0.1:1", None, "TESTGW", 1, twilio_max_attempts=3)
    return TwilioGateway(settings, client=object())  # type: ignore[arg-type]


def _unknown_outcome() -> TwilioRestException:
    return TwilioRestException(503, "https://example.test", "upstream failed")


def test_no_second_create_when_the_look_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.relay.twilio_client.time.sleep", lambda s: None)
    gw = _gateway()
    creates: list[int] = []

    def create() -> Any:
        creates.append(1)
        raise _unknown_outcome()

    def look() -> Any:
        raise TwilioRestException(429, "https://example.test", "too many requests")

    with pytest.raises(TwilioRestException) as err:
        gw.create_checked("add_webhook", create, look)
    assert err.value.status == 503 and creates == [1]
    assert gw.calls_by_code.get("503") == 1


def test_found_by_the_look_or_created_again_when_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.relay.twilio_client.time.sleep", lambda s: None)
    gw = _gateway()
    made: list[str] = []

    def create_once_then_ok() -> str:
        made.append("try")
        if len(made) == 1:
            raise _unknown_outcome()
        return "created"

    assert gw.create_checked("x", create_once_then_ok, lambda: None) == "created"
    assert made == ["try", "try"]

    def create_failing() -> str:
        raise _unknown_outcome()

    assert gw.create_checked("x", create_failing, lambda: "it was made") == "it was made"


class _Lookups:
    """The slice of twilio's Client that `line_type` uses, answering from a dict."""

    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.fetched: list[str] = []
        self.lookups = self
        self.v2 = self

    def phone_numbers(self, phone: str) -> Any:
        outer = self

        class _Ctx:
            def fetch(self, fields: str) -> Any:
                assert fields == "line_type_intelligence"
                outer.fetched.append(phone)
                kind = outer.answers.get(phone)
                if kind == "outage":
                    raise TwilioRestException(500, "https://lookups.test", "down")
                return type("R", (), {"line_type_intelligence": {"type": kind} if kind else None})

        return _Ctx()


def test_line_types_are_cached_per_phone_for_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.relay.twilio_client.time.sleep", lambda s: None)
    answers: dict[str, str | None] = {"+13125550001": "mobile", "+13125550002": "outage"}
    lookups = _Lookups(answers)
    settings = relay_settings("http://127.0.0.1:1", None, "TESTGW", 1, twilio_max_attempts=2)
    gw = TwilioGateway(settings, client=lookups)  # type: ignore[arg-type]
    assert gw.line_type("+13125550001") == "mobile"
    answers["+13125550001"] = "landline"
    assert gw.line_type("+13125550001") == "mobile"  # reused: one billed Lookup
    assert lookups.fetched == ["+13125550001"]
    # an outage (None) is not kept: the next lead looks again
    assert gw.line_type("+13125550002") is None
    answers["+13125550002"] = "landline"
    assert gw.line_type("+13125550002") == "landline"
    assert lookups.fetched.count("+13125550002") == 3  # 2 attempts, then 1

    no_cache = TwilioGateway(
        settings.with_overrides(lookup_cache_ttl_s=0.0),
        client=lookups,  # type: ignore[arg-type]
    )
    assert no_cache.line_type("+13125550001") == "landline"
    assert no_cache.line_type("+13125550001") == "landline"
    assert lookups.fetched.count("+13125550001") == 3


def test_requests_reads_the_environment_only_when_it_holds_proxy_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.relay.config import Settings, proxy_in_environment
    from app.relay.twilio_client import RewritingHttpClient, make_http_client

    def from_environment() -> RewritingHttpClient:
        """The Twilio HTTP client of a relay started in this environment."""
        env = {**os.environ, "W2T_TABLE_PREFIX": "TEST"}
        return make_http_client(Settings.from_env(env, require_twilio=False))

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.endswith("CA_BUNDLE"):
            monkeypatch.delenv(name)
    client = from_environment()
    assert client.session.trust_env is False and client.session.verify is True
    for name in ("HTTPS_PROXY", "http_proxy", "all_proxy"):
        with monkeypatch.context() as m:
            m.setenv(name, "x")
            assert proxy_in_environment(os.environ)
            assert from_environment().session.trust_env is True
    # no_proxy alone, or an empty proxy variable, names no proxy: the fast session
    for name, value in (("no_proxy", "localhost"), ("NO_PROXY", "*"), ("HTTPS_PROXY", "")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert not proxy_in_environment(os.environ)
            assert from_environment().session.trust_env is False
    # a CA bundle alone: given to the session once, as requests would use it
    url = "https://api.twilio.com/"
    for env, expected in [
        ({"REQUESTS_CA_BUNDLE": "/etc/ca-a.pem"}, "/etc/ca-a.pem"),
        ({"CURL_CA_BUNDLE": "/etc/ca-b.pem"}, "/etc/ca-b.pem"),
        ({"REQUESTS_CA_BUNDLE": "/etc/ca-a.pem", "CURL_CA_BUNDLE": "/b"}, "/etc/ca-a.pem"),
        ({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "/etc/ca-b.pem"}, "/etc/ca-b.pem"),
    ]:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            assert not proxy_in_environment(os.environ)
            session = from_environment().session
            assert session.trust_env is False
            trusting = requests.Session()
            assert trusting.trust_env is True
            # what requests works out per request, reading the environment: the same
            assert session.merge_environment_settings(url, {}, None, None, None) == (
                trusting.merge_environment_settings(url, {}, None, None, None)
            )
            assert session.merge_environment_settings(url, {}, None, None, None)["verify"] == (
                expected
            )


def test_sdk_request_logs_are_formatted_only_when_written(caplog: pytest.LogCaptureFixture) -> None:
    from app.relay.twilio_client import RewritingHttpClient

    class Unprintable(dict[str, str]):
        def __str__(self) -> str:
            raise AssertionError("formatted although nobody writes it")

        __repr__ = __str__

    client = RewritingHttpClient(None, 5)
    request = {
        "method": "GET",
        "url": "https://lookups.twilio.com/v2/PhoneNumbers/x",
        "params": Unprintable(Fields="line_type_intelligence"),
        "headers": {"Accept": "application/json", "Authorization": "Basic secret"},
    }
    with caplog.at_level(logging.WARNING, logger=client.logger.name):
        client.log_request(request)
        client.log_response(200, type("R", (), {"headers": Unprintable()})())
    assert caplog.records == []
    request["params"] = {"Fields": "line_type_intelligence"}
    with caplog.at_level(logging.INFO, logger=client.logger.name):
        client.log_request(request)
    lines = [r.getMessage() for r in caplog.records]
    assert (
        "GET Request: https://lookups.twilio.com/v2/PhoneNumbers/x?Fields=line_type_intelligence"
        in lines
    )
    assert not any("secret" in line for line in lines)
