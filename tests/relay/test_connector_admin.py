"""The connectors' admin commands as real subprocesses on DynamoDB Local:
set-retailer (the RLM key, from stdin, never printed), set-location, and the
configuration they are read with."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.relay.config import ConfigError, Settings
from app.relay.connectors.directory_settings import local_store, retailer_rlm_key
from tests.support.relay import init_tables, new_prefix, seed_dealer, tables_for


def admin(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "app.relay.cli", "admin", *args],
        env=full,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_set_retailer_and_location(dynamodb_endpoint: str) -> None:
    prefix = new_prefix()
    settings = init_tables(dynamodb_endpoint, prefix)
    seed = seed_dealer(settings, pool=[])
    tables = tables_for(settings)
    env = {"W2T_TABLE_PREFIX": prefix, "W2T_DYNAMODB_ENDPOINT": dynamodb_endpoint}
    secret = "rlm-secret-9f2c"
    res = admin(
        env,
        "set-retailer",
        "--retailer-id",
        seed.retailer_id,
        "--rlm-api-key",
        "-",
        stdin=secret + "\n",
    )
    assert res.returncode == 0, res.stderr
    assert secret not in res.stdout + res.stderr and "rlm_api_key saved" in res.stderr
    assert retailer_rlm_key(tables, seed.retailer_id) == secret
    res = admin(env, "set-retailer", "--retailer-id", seed.retailer_id, "--clear-rlm-api-key")
    assert res.returncode == 0 and retailer_rlm_key(tables, seed.retailer_id) is None
    res = admin(env, "set-retailer", "--retailer-id", seed.location_id, "--rlm-api-key", "x")
    assert res.returncode == 1 and "no retailer" in res.stderr
    res = admin(
        env,
        "set-location",
        "--location-id",
        seed.location_id,
        "--universal-store-id",
        "dhq-7",
        "--street-address",
        "1 Main St",
    )
    assert res.returncode == 0, res.stderr
    found = local_store(tables, seed.location_id)
    assert found is not None
    assert (found["universal_id"], found["street_address"]) == ("dhq-7", "1 Main St")
    assert found["location_name"] == "Main Street"


BASE = {"W2T_TABLE_PREFIX": "TEST"}


def test_connector_settings_are_read_with_the_originals_names() -> None:
    env = dict(
        BASE,
        RLM_API_URL="https://rlm.example/",
        RLM_GOD_API_KEY="god-secret-key",
        RLM_GOD_EMAIL="god@example.com",
        RLM_API_KEY_OVERRIDE="override-secret",
        DHQ_API_URL="https://dhq.example/",
        DHQ_API_KEY="dhq-secret",
        BOTPRESS_API_TOKEN="bp-secret",
        BOTPRESS_BOT_ID="bot",
        BOTPRESS_WORKSPACE_ID="ws",
        FF_API_URL="https://ff.example",
    )
    connectors = Settings.from_env(env, require_twilio=False).connectors
    assert connectors is not None
    assert connectors.rlm is not None and connectors.rlm.api_key_override == "override-secret"
    assert connectors.dhq is not None and connectors.botpress is not None
    assert connectors.botpress.api_url == "https://api.botpress.cloud"  # the original's host
    assert connectors.acton is None and connectors.nexus is None
    assert connectors.floorforce is not None
    shown = repr(connectors)
    for secret in ("dhq-secret", "bp-secret", "override-secret", "god-secret-key"):
        assert secret not in shown
    empty = Settings.from_env(BASE, require_twilio=False).connectors
    assert empty is not None and not empty.any


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DHQ_API_URL": "https://d"}, "DHQ_API_KEY missing"),
        ({"RLM_GOD_API_KEY": "k"}, "RLM_API_URL missing"),
        ({"RLM_API_URL": "ftp://x"}, "RLM_API_URL"),
        ({"ACTON_BASE_URL": "https://a", "ACTON_USERNAME": "u"}, "ACTON_PASSWORD"),
        ({"NEXUS_API_URL": "https://n", "NEXUS_API_USERNAME": "u"}, "NEXUS_API_PASSWORD"),
        (
            {
                "NEXUS_API_URL": "https://n",
                "NEXUS_API_USERNAME": "u",
                "NEXUS_API_PASSWORD": "p",
                "NEXUS_AWS_API_URL": "https://aws",
            },
            "NEXUS_AWS_API_SECRET_NAME",
        ),
        ({"W2T_CONNECTOR_TIMEOUT": "soon"}, "W2T_CONNECTOR_TIMEOUT"),
    ],
)
def test_a_system_set_in_part_names_what_is_missing(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(dict(BASE, **env), require_twilio=False)
