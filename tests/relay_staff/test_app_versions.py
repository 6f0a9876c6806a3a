"""The relay tells desktops which app versions it accepts (`GET /v1/me`)."""

from __future__ import annotations

import httpx
import pytest

from app.relay.config import ConfigError, Settings
from tests.support.relay import issue_staff_key, seed_dealer, start_relay


@pytest.mark.dynamodb
def test_me_carries_the_minimum_and_latest_app_version(dynamodb_endpoint: str) -> None:
    relay = start_relay(dynamodb_endpoint, background=False, min_app_version="1.2",
                        latest_app_version="1.4.1")
    plain = start_relay(dynamodb_endpoint, prefix=relay.settings.table_prefix, background=False)
    try:
        seed = seed_dealer(relay, web2text_number="+13125550178")
        key = issue_staff_key(relay, seed.retailer_id, [seed.location_id], staff_id="v1")
        body = httpx.get(f"{relay.url}/v1/me", headers={"Authorization": key}).json()
        assert body["minAppVersion"] == "1.2" and body["latestAppVersion"] == "1.4.1"
        # a relay that sets neither says nothing about versions (any is fine)
        body = httpx.get(f"{plain.url}/v1/me", headers={"Authorization": key}).json()
        assert body.get("minAppVersion") is None and body.get("latestAppVersion") is None
    finally:
        relay.stop()
        plain.stop()


def test_versions_come_from_the_environment() -> None:
    env = {"W2T_TABLE_PREFIX": "TEST", "W2T_MIN_APP_VERSION": "0.9",
           "W2T_LATEST_APP_VERSION": "1.0.3"}
    settings = Settings.from_env(env, require_twilio=False)
    assert (settings.min_app_version, settings.latest_app_version) == ("0.9", "1.0.3")
    assert Settings.from_env({"W2T_TABLE_PREFIX": "TEST"}, require_twilio=False).min_app_version \
        is None
    with pytest.raises(ConfigError, match="W2T_MIN_APP_VERSION"):
        Settings.from_env({**env, "W2T_MIN_APP_VERSION": "latest"}, require_twilio=False)
