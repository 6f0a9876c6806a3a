"""Configuration, tables and the admin CLI (real subprocesses on DynamoDB Local)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import boto3
import pytest

from app.relay import auth, directory
from app.relay.cli import main
from app.relay.config import ConfigError, Settings
from app.relay.ddb import Tables
from app.relay.tables import SPECS, table_name
from tests.support.relay import new_prefix

BASE_ENV = {
    "W2T_TABLE_PREFIX": "TEST",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "tok",
    "W2T_PUBLIC_URL": "https://relay.example.com",
}


def test_settings_from_env_reads_everything() -> None:
    env = dict(
        BASE_ENV,
        W2T_DYNAMODB_ENDPOINT="http://127.0.0.1:8000",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32,
        W2T_TWILIO_BASE_URL="http://127.0.0.1:9999/",
        W2T_ENVIRONMENT="production",
        AWS_REGION="eu-west-1",
    )
    s = Settings.from_env(env)
    assert s.table_prefix == "TEST"
    assert s.dynamodb_endpoint == "http://127.0.0.1:8000"
    assert s.twilio_base_url == "http://127.0.0.1:9999"
    assert s.public_url == "https://relay.example.com"
    assert s.production and s.aws_region == "eu-west-1"
    assert "tok" not in repr(s)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"W2T_TABLE_PREFIX": ""}, "W2T_TABLE_PREFIX is missing"),
        ({"W2T_TABLE_PREFIX": "STAGING"}, "W2T_TABLE_PREFIX"),
        ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN"),
        ({"TWILIO_ACCOUNT_SID": "XY123"}, "TWILIO_ACCOUNT_SID"),
        ({"W2T_PUBLIC_URL": "relay.example.com"}, "W2T_PUBLIC_URL"),
        ({"W2T_DYNAMODB_ENDPOINT": "nope"}, "W2T_DYNAMODB_ENDPOINT"),
        ({"W2T_MAX_BODY_BYTES": "lots"}, "W2T_MAX_BODY_BYTES"),
        ({"TWILIO_MESSAGING_SERVICE_SID": "XX1"}, "TWILIO_MESSAGING_SERVICE_SID"),
    ],
)
def test_settings_errors_name_the_variable(change: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(dict(BASE_ENV, **change))


def test_stream_and_idempotency_tunables_are_settings() -> None:
    default = Settings.from_env(BASE_ENV)
    assert (default.stream_poll_s, default.stream_heartbeat_s) == (0.2, 15.0)
    assert (default.stream_reauth_s, default.idempotency_lease_s) == (1.0, 30.0)
    tuned = Settings.from_env(
        dict(
            BASE_ENV,
            W2T_STREAM_POLL="0.05",
            W2T_STREAM_HEARTBEAT="0.3",
            W2T_STREAM_REAUTH="2",
            W2T_IDEMPOTENCY_LEASE="1.5",
        )
    )
    assert (tuned.stream_poll_s, tuned.stream_heartbeat_s) == (0.05, 0.3)
    assert (tuned.stream_reauth_s, tuned.idempotency_lease_s) == (2.0, 1.5)
    assert Settings.from_env(dict(BASE_ENV, W2T_STREAM_POLL="0")).stream_poll_s == 0.2
    for name in ("W2T_STREAM_POLL", "W2T_STREAM_HEARTBEAT", "W2T_IDEMPOTENCY_LEASE"):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env(dict(BASE_ENV, **{name: "soon"}))


def test_proxy_and_ca_bundle_are_read_with_the_settings() -> None:
    plain = Settings.from_env(BASE_ENV)
    assert plain.proxy_configured is False and plain.ca_bundle is None
    proxied = Settings.from_env(
        dict(BASE_ENV, HTTPS_PROXY="http://proxy:3128", REQUESTS_CA_BUNDLE="/etc/ca.pem")
    )
    assert proxied.proxy_configured is True and proxied.ca_bundle == "/etc/ca.pem"
    assert Settings.from_env(dict(BASE_ENV, no_proxy="*")).proxy_configured is False


@pytest.mark.parametrize("value", ["0", "false", "no", "off", " OFF "])
def test_background_is_switched_off_with_the_same_words_as_every_flag(value: str) -> None:
    assert Settings.from_env(dict(BASE_ENV, W2T_BACKGROUND=value)).background is False
    assert Settings.from_env(dict(BASE_ENV, W2T_BACKGROUND="1")).background is True


def test_prefix_accepts_test_suffix_and_prod_dev() -> None:
    for prefix in ("PROD", "DEV", "TEST", "TESTAB12"):
        assert Settings.from_env(dict(BASE_ENV, W2T_TABLE_PREFIX=prefix)).table_prefix == prefix


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "app.relay.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_config_exits_non_zero_with_message() -> None:
    res = _cli({"W2T_TABLE_PREFIX": "TEST"}, "serve", "--port", "1")
    assert res.returncode != 0
    assert "TWILIO_ACCOUNT_SID" in res.stderr


def test_admin_cli_end_to_end(
    dynamodb_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = new_prefix()
    env = {"W2T_TABLE_PREFIX": prefix, "W2T_DYNAMODB_ENDPOINT": dynamodb_endpoint}
    # the real console script, as a process, for the first command and one key
    res = _cli(env, "admin", "init-tables")
    assert res.returncode == 0, res.stderr
    # every page: the shared DynamoDB Local holds other tests' tables too (100 a page)
    pages = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint).get_paginator("list_tables")
    names = {name for page in pages.paginate() for name in page["TableNames"]}
    for spec in SPECS:
        assert table_name(prefix, spec.suffix) in names
    assert f"{prefix}_Web2Text_LeadStates" in names
    res = _cli(
        env,
        "admin",
        "issue-key",
        "--endpoints",
        "Lead/create,Lead/status",
        "--description",
        "website",
    )
    assert res.returncode == 0
    key = res.stdout.strip()
    assert res.stdout == key + "\n" and key.startswith("w2t_")

    # the rest in-process (same `main`), to keep the run short
    for k in [k for k in os.environ if k.startswith(("W2T_", "TWILIO_"))]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("admin", "init-tables")[0] == 0  # idempotent
    rid, lid = str(uuid.uuid4()), str(uuid.uuid4())
    code, _, err = run(
        "admin",
        "add-location",
        "--retailer-id",
        rid,
        "--location-id",
        lid,
        "--name",
        "X",
        "--web2text-number",
        "+13125550188",
    )
    assert code != 0 and "add-retailer first" in err
    assert run("admin", "add-retailer", "--retailer-id", rid, "--name", "Acme")[0] == 0
    code, _, err = run(
        "admin",
        "add-location",
        "--retailer-id",
        rid,
        "--location-id",
        lid,
        "--name",
        "Main",
        "--web2text-number",
        "(312) 555-0188",
        "--timezone",
        "America/Chicago",
    )
    assert code == 0, err
    code, _, err = run(
        "admin",
        "add-location",
        "--retailer-id",
        "nope",
        "--location-id",
        lid,
        "--name",
        "Main",
        "--web2text-number",
        "+13125550188",
    )
    assert code == 2 and "UUID" in err
    code, _, err = run(
        "admin",
        "add-location",
        "--retailer-id",
        rid,
        "--location-id",
        lid,
        "--name",
        "Main",
        "--web2text-number",
        "12",
        "--timezone",
        "Mars/Base",
    )
    assert code == 2
    assert run("admin", "add-pool-number", "+13125550101", "+14155550102")[0] == 0
    code, out, _ = run(
        "admin",
        "issue-key",
        "--staff",
        "--staff-id",
        "s1",
        "--name",
        "Sam",
        "--retailer-id",
        rid,
        "--locations",
        lid,
    )
    staff_key = out.strip()
    assert code == 0 and staff_key and out == staff_key + "\n"
    assert run("admin", "issue-key", "--staff", "--staff-id", "s1")[0] == 2
    assert run("admin", "issue-key")[0] == 2

    settings = Settings(table_prefix=prefix, dynamodb_endpoint=dynamodb_endpoint)
    tables = Tables.from_settings(settings)
    item = tables.api_keys.get_item(Key={"API_Key": auth.hash_key(key)})["Item"]
    assert item["Active"] is True
    assert sorted(item["AuthorizedEndpoints"]) == ["Lead/create", "Lead/status"]
    assert tables.api_keys.get_item(Key={"API_Key": key}).get("Item") is None  # never plain
    staff = tables.api_keys.get_item(Key={"API_Key": auth.hash_key(staff_key)})["Item"]
    assert staff["StaffId"] == "s1" and staff["Locations"] == [lid] and staff["RetailerId"] == rid
    loc = tables.directory.get_item(Key={"Id": lid})["Item"]
    assert loc["Web2TextPhoneNumber"] == "+13125550188" and loc["Timezone"] == "America/Chicago"
    pool = directory.pool_numbers(tables)
    assert sorted(pool) == ["+13125550101", "+14155550102"]

    # legacy plain key -> migrate-keys hashes it; it still works afterwards
    tables.api_keys.put_item(
        Item={
            "API_Key": "legacy-plain-key",
            "Active": True,
            "AuthorizedEndpoints": ["*"],
            "Description": "old",
        }
    )
    assert auth.lookup_key(tables, "legacy-plain-key") is not None
    # the stored hash of a key is not itself a key
    assert auth.lookup_key(tables, auth.hash_key(key)) is None
    code, _, err = run("admin", "migrate-keys")
    assert code == 0 and "1 key(s) migrated" in err
    assert tables.api_keys.get_item(Key={"API_Key": "legacy-plain-key"}).get("Item") is None
    assert auth.lookup_key(tables, "legacy-plain-key") is not None

    assert run("admin", "revoke-key", key)[0] == 0
    assert auth.lookup_key(tables, key) is None
    assert run("admin", "revoke-key", "no-such-key")[0] == 1
