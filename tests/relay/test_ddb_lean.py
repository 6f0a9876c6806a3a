"""`app.relay.ddb_lean`: the lean data-plane transport answers exactly as botocore
does (DynamoDB Local: values, pages, batches, transactions, errors), retries what
botocore's standard mode retries and nothing else (a local fake endpoint), and is
what `Tables` uses unless turned off."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from app.relay import ddb_lean
from app.relay.config import Settings, ddb_lean_requested
from app.relay.ddb import Tables, make_client, make_lean_client
from app.relay.ddb_lean import LeanClient, LeanTable
from app.sandbox.servers import free_port

pytestmark = pytest.mark.dynamodb


@pytest.fixture(autouse=True)
def _local_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")


def _settings(endpoint: str, **kw: Any) -> Settings:
    return Settings(table_prefix="TESTLEAN", dynamodb_endpoint=endpoint, **kw)


def _lean(endpoint: str, **kw: Any) -> LeanClient:
    lean = make_lean_client(_settings(endpoint, **kw), env={})
    assert lean is not None
    return lean


ITEM: dict[str, Any] = {
    "Pk": "p",
    "Sk": 1,
    "Text": 'ünïcødé "quoted" \\ {"B": 1}',
    "Int": 42,
    "Dec": Decimal("3.25"),
    "Flag": True,
    "Nothing": None,
    "Tags": {"a", "b"},
    "Nums": {1, 2},
    "Blob": b"\x00\xffbinary",
    "Blobs": {b"x", b"y"},
    "Nested": {"List": [1, "two", {"Three": [Decimal("3.5")]}], "Empty": {}},
}


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def test_item_calls_read_and_write_exactly_as_the_resource(
    dynamodb_endpoint: str, table_name: str
) -> None:
    resource = boto3.session.Session().resource(
        "dynamodb", endpoint_url=dynamodb_endpoint, region_name="us-east-1"
    )
    plain = resource.Table(table_name)
    lean = LeanTable(_lean(dynamodb_endpoint), plain)
    lean.put_item(Item=ITEM)
    key = {"Pk": "p", "Sk": 1}
    assert lean.get_item(Key=key, ConsistentRead=True)["Item"] == ITEM
    assert plain.get_item(Key=key, ConsistentRead=True)["Item"] == ITEM
    plain.put_item(Item=dict(ITEM, Sk=2))
    assert lean.get_item(Key={"Pk": "p", "Sk": 2}, ConsistentRead=True)["Item"] == dict(ITEM, Sk=2)

    expr: dict[str, Any] = {
        "Key": key,
        "UpdateExpression": "SET #l = list_append(#l, :e) ADD #n :one",
        "ExpressionAttributeNames": {"#l": "List", "#n": "Int"},
        "ExpressionAttributeValues": {":e": [{"at": "x"}], ":one": 1},
        "ReturnValues": "ALL_NEW",
    }
    plain.update_item(
        Key=key,
        UpdateExpression="SET #l = :empty",
        ExpressionAttributeNames={"#l": "List"},
        ExpressionAttributeValues={":empty": []},
    )
    by_lean = lean.update_item(**expr)["Attributes"]
    by_plain = plain.update_item(**expr)["Attributes"]
    assert by_lean["Int"] == 43 and by_plain["Int"] == 44
    assert by_lean["List"] == [{"at": "x"}] and by_plain["List"] == [{"at": "x"}, {"at": "x"}]
    old = lean.delete_item(Key={"Pk": "p", "Sk": 2}, ReturnValues="ALL_OLD")["Attributes"]
    assert old == dict(ITEM, Sk=2)
    assert "Item" not in lean.get_item(Key={"Pk": "p", "Sk": 2}, ConsistentRead=True)
    # query/scan are the resource's own (condition objects)
    from boto3.dynamodb.conditions import Key

    assert [i["Sk"] for i in lean.query(KeyConditionExpression=Key("Pk").eq("p"))["Items"]] == [1]


def test_client_calls_answer_as_botocore(dynamodb_endpoint: str, table_name: str) -> None:
    lean = _lean(dynamodb_endpoint)
    slow = make_client(_settings(dynamodb_endpoint))
    for sk in range(10, 16):
        lean.put_item(
            TableName=table_name,
            Item={"Pk": {"S": "q"}, "Sk": {"N": str(sk)}, "B": {"B": b"\x01" * sk}},
        )
    query = {
        "TableName": table_name,
        "KeyConditionExpression": "Pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "q"}},
        "Limit": 4,
    }
    first = lean.query(**query)
    assert _strip(first) == _strip(slow.query(**query))
    assert isinstance(first["Items"][0]["B"]["B"], bytes)
    rest = {**query, "ExclusiveStartKey": first["LastEvaluatedKey"]}
    assert _strip(lean.query(**rest)) == _strip(slow.query(**rest))
    batch = {table_name: {"Keys": [{"Pk": {"S": "q"}, "Sk": {"N": "11"}}], "ConsistentRead": True}}
    assert _strip(lean.batch_get_item(RequestItems=batch)) == _strip(
        slow.batch_get_item(RequestItems=batch)
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 200
    # control-plane calls are the botocore client's
    assert lean.describe_table(TableName=table_name)["Table"]["TableName"] == table_name


def test_errors_are_botocores_modeled_client_errors(
    dynamodb_endpoint: str, table_name: str
) -> None:
    lean = _lean(dynamodb_endpoint)
    slow = make_client(_settings(dynamodb_endpoint))
    put = {
        "TableName": table_name,
        "Item": {"Pk": {"S": "c"}, "Sk": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(Pk)",
    }
    lean.put_item(**put)
    with pytest.raises(lean.exceptions.ConditionalCheckFailedException) as by_lean:
        lean.put_item(**put)
    with pytest.raises(ClientError) as by_slow:
        slow.put_item(**put)
    assert by_lean.value.response["Error"] == by_slow.value.response["Error"]
    assert str(by_lean.value) == str(by_slow.value)

    cond = dict(put, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    with pytest.raises(ClientError) as with_item:
        lean.put_item(**cond)
    with pytest.raises(ClientError) as with_item_slow:
        slow.put_item(**cond)
    assert with_item.value.response.get("Item") == with_item_slow.value.response.get("Item")

    transact = {
        "TransactItems": [
            {"Put": put},
            {"Put": dict(put, Item={"Pk": {"S": "c2"}, "Sk": {"N": "1"}})},
        ]
    }
    with pytest.raises(ClientError) as tx:
        lean.transact_write_items(**transact)
    with pytest.raises(ClientError) as tx_slow:
        slow.transact_write_items(**transact)
    assert tx.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert tx.value.response["Error"] == tx_slow.value.response["Error"]
    assert tx.value.response.get("CancellationReasons") == tx_slow.value.response.get(
        "CancellationReasons"
    )

    with pytest.raises(ClientError) as bad:
        lean.update_item(
            TableName=table_name, Key={"Pk": {"S": "c"}, "Sk": {"N": "1"}}, UpdateExpression="SET"
        )
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert bad.value.response["ResponseMetadata"]["RetryAttempts"] == 0


# --------------------------------------------------------------------------- retries


class _Fake:
    """A local endpoint answering a scripted list of (status, body, crc_ok)."""

    def __init__(self, script: list[tuple[int, dict[str, Any], bool]]) -> None:
        self.script = script
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append(dict(self.headers.items()))
                status, body, crc_ok = fake.script[min(len(fake.requests), len(fake.script)) - 1]
                data = json.dumps(body).encode()
                crc = zlib.crc32(data) & 0xFFFFFFFF
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amz-crc32", str(crc if crc_ok else crc ^ 1))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ddb_lean.random, "random", lambda: 0.0)


@pytest.fixture
def fake() -> Iterator[list[_Fake]]:
    made: list[_Fake] = []
    yield made
    for f in made:
        f.server.shutdown()
        f.server.server_close()


THROTTLED = (400, {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}, True)
OK = (200, {"Item": {"Pk": {"S": "x"}}}, True)


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    ("script", "attempts"),
    [
        ([THROTTLED, THROTTLED, OK], 3),
        ([(500, {"__type": "InternalServerError", "message": "boom"}, True), OK], 2),
        ([(503, {}, True), OK], 2),
        ([(200, {"Item": {}}, False), OK], 2),  # CRC32 mismatch
    ],
)
def test_retryable_failures_are_retried(
    fake: list[_Fake], script: list[tuple[int, dict[str, Any], bool]], attempts: int
) -> None:
    f = _Fake(script)
    fake.append(f)
    lean = _lean(f.url, ddb_max_attempts=4)
    answer = lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
    assert answer["Item"] == {"Pk": {"S": "x"}}
    assert len(f.requests) == attempts
    assert answer["ResponseMetadata"]["RetryAttempts"] == attempts - 1
    first = f.requests[0]
    assert first["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert first["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=local/")


@pytest.mark.usefixtures("no_backoff")
def test_retries_are_bounded_and_final_errors_are_not_retried(fake: list[_Fake]) -> None:
    f = _Fake([THROTTLED])
    fake.append(f)
    lean = _lean(f.url, ddb_max_attempts=3)
    with pytest.raises(ClientError) as throttled:
        lean.put_item(TableName="TESTX", Item={"Pk": {"S": "x"}})
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(f.requests) == 3

    g = _Fake([(400, {"__type": "x#ConditionalCheckFailedException", "message": "no"}, True)])
    fake.append(g)
    lean = _lean(g.url, ddb_max_attempts=3)
    with pytest.raises(lean.exceptions.ConditionalCheckFailedException):
        lean.put_item(TableName="TESTX", Item={"Pk": {"S": "x"}})
    assert len(g.requests) == 1


@pytest.mark.usefixtures("no_backoff")
def test_unreachable_endpoint_raises_botocores_connection_error() -> None:
    lean = _lean(f"http://127.0.0.1:{free_port()}", ddb_max_attempts=2)
    with pytest.raises(EndpointConnectionError):
        lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})


def test_tables_use_the_lean_client_unless_turned_off(
    dynamodb_endpoint: str, table_name: str
) -> None:
    tables = Tables.from_settings(_settings(dynamodb_endpoint))
    assert isinstance(tables.client, LeanClient)
    assert isinstance(tables.leads, LeanTable)
    tables.client.get_item(TableName=table_name, Key={"Pk": {"S": "n"}, "Sk": {"N": "0"}})
    assert tables.call_counts() == {"GetItem": 1}  # reaches /metrics like botocore's calls
    off = Tables.from_settings(_settings(dynamodb_endpoint, ddb_lean=False))
    assert not isinstance(off.client, LeanClient)
    assert not isinstance(off.leads, LeanTable)
    off.client.get_item(TableName=table_name, Key={"Pk": {"S": "n"}, "Sk": {"N": "0"}})
    assert off.call_counts() == {"GetItem": 1}
    env = {"W2T_TABLE_PREFIX": "TEST", "W2T_DDB_LEAN": "0"}
    assert Settings.from_env(env, require_twilio=False).ddb_lean is False
    assert ddb_lean_requested({}) and not ddb_lean_requested({"W2T_DDB_LEAN": "off"})
    # the same proxy test as the Twilio session's (one function): any non-empty
    # *_proxy name but no_proxy, which alone sends nothing through a proxy
    for proxied in ({"HTTPS_PROXY": "http://proxy:3128"}, {"all_proxy": "socks5://p:1080"}):
        assert make_lean_client(_settings(dynamodb_endpoint), env=proxied) is None
    for direct in ({"NO_PROXY": "localhost"}, {"HTTPS_PROXY": ""}):
        assert make_lean_client(_settings(dynamodb_endpoint), env=direct) is not None
    assert make_lean_client(_settings(dynamodb_endpoint), env={"https_proxy": "x"}) is None
    assert make_lean_client(_settings(dynamodb_endpoint, ddb_lean=False), env={}) is None


class _Provider(CredentialProvider):
    """A credential provider that counts its loads and hands out credentials
    refreshed from `keys` (the next one each time the clock passes their expiry)."""

    METHOD = "w2t-test"

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.loads = 0
        self.now = datetime.now(UTC)

    def _metadata(self) -> dict[str, str]:
        key = self.keys.pop(0)
        expiry = self.now + timedelta(hours=1)
        return {
            "access_key": key,
            "secret_key": "secret-" + key,
            "token": "token-" + key,
            "expiry_time": expiry.isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        self.loads += 1
        first = self._metadata()
        return RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.fromisoformat(first["expiry_time"]),
            self._metadata,
            self.METHOD,
            time_fetcher=lambda: self.now,
        )


def _session_with(provider: _Provider) -> boto3.session.Session:
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([provider]))
    return boto3.session.Session(botocore_session=core, region_name="us-east-1")


def _signed_key(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("Credential=", 1)[1].split("/", 1)[0]


def test_one_session_serves_the_lean_client_the_client_and_the_resource(
    fake: list[_Fake],
) -> None:
    """Tables resolves credentials once, and every client it builds signs with them."""
    f = _Fake([OK])
    fake.append(f)
    provider = _Provider(["AKIDFIRST"])
    tables = Tables.from_settings(_settings(f.url), session=_session_with(provider))
    assert isinstance(tables.client, LeanClient)
    tables.client.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
    tables.resource.meta.client.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
    assert [_signed_key(h) for h in f.requests] == ["AKIDFIRST", "AKIDFIRST"]
    assert provider.loads == 1


def test_the_next_call_is_signed_with_refreshed_credentials(fake: list[_Fake]) -> None:
    """When the session's credentials expire and refresh (a task role's every few
    hours), the lean client's next request carries the new key and token."""
    f = _Fake([OK])
    fake.append(f)
    provider = _Provider(["AKIDFIRST", "AKIDSECOND"])
    lean = make_lean_client(_settings(f.url), env={}, session=_session_with(provider))
    assert lean is not None
    lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
    provider.now += timedelta(hours=2)  # past the expiry: the next use refreshes
    lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
    assert [_signed_key(h) for h in f.requests] == ["AKIDFIRST", "AKIDSECOND"]
    assert [h["X-Amz-Security-Token"] for h in f.requests] == [
        "token-AKIDFIRST",
        "token-AKIDSECOND",
    ]
    assert provider.loads == 1 and provider.keys == []  # refreshed, not resolved again


def test_fast_deserializer_reads_exactly_as_boto3s() -> None:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    item = TypeSerializer().serialize(
        dict(ITEM, Big=Decimal("12345678901234567890.123"), Neg=-7, Exp=Decimal("1E+3"))
    )["M"]
    item["Raw"] = {"N": "0001.500"}  # as another system may have written it
    fast = ddb_lean.from_av(item)
    assert fast == {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    assert type(fast["Int"]) is Decimal and str(fast["Raw"]) == "1.500"
    with pytest.raises(TypeError):
        ddb_lean.from_av({"Bad": {}})


def test_fast_serializer_writes_exactly_as_boto3s() -> None:
    import enum
    from collections import OrderedDict

    from boto3.dynamodb.types import Binary, TypeSerializer

    class Kind(enum.StrEnum):
        A = "a"

    class Level(enum.IntEnum):
        TWO = 2

    item = dict(
        ITEM,
        Big=Decimal("12345678901234567890.123"),
        Neg=-7,
        Tuple=("x", 1, {"y": [None, True]}),
        Ordered=OrderedDict(b="1", a=[Decimal("0.1")]),
        Enums=[Kind.A, Level.TWO],
        Bin=Binary(b"\x01"),
        Raw=bytearray(b"\x02"),
    )
    assert ddb_lean.to_av(item) == {k: TypeSerializer().serialize(v) for k, v in item.items()}
    for bad in (1.5, Decimal("Infinity"), object(), {"nested": [2.5]}, 10**40):
        with pytest.raises(Exception) as by_boto3:
            TypeSerializer().serialize(bad)
        with pytest.raises(type(by_boto3.value)):
            ddb_lean.to_av({"Bad": bad})


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8000/",
        "https://dynamodb.us-east-1.amazonaws.com/",
        "https://dynamodb.eu-west-1.amazonaws.com:443",
        "http://[::1]:8000/",
        "http://localhost:8000/base/../x//y?b=2&a=1",
    ],
)
@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjE  token/with+chars=="])
def test_signer_signs_exactly_as_botocores_sigv4(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, token: str | None
) -> None:
    import datetime

    from botocore import auth as botocore_auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"TableName": "T", "Key": {"Pk": {"S": "ünï"}}}).encode()
    target = "DynamoDB_20120810.GetItem"

    def by_botocore(secret: str, at: datetime.datetime) -> dict[str, str]:
        monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda *a, **k: at)
        creds = Credentials("AKIDEXAMPLE", secret, token).get_frozen_credentials()
        request = AWSRequest(
            method="POST",
            url=endpoint,
            data=body,
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target},
        )
        botocore_auth.SigV4Auth(creds, "dynamodb", "us-east-1").add_auth(request)
        return dict(request.headers.items())

    signer = ddb_lean._Signer(endpoint, "us-east-1", "dynamodb")
    # the same key twice (kept), then a rotated secret, then the next day: new keys
    for secret, at in [
        ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", datetime.datetime(2026, 12, 6, 21, 5, 9)),
        ("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", datetime.datetime(2026, 12, 6, 23, 59, 59)),
        ("another-secret", datetime.datetime(2026, 12, 6, 23, 59, 59)),
        ("another-secret", datetime.datetime(2026, 12, 7, 0, 0, 0)),
    ]:
        creds = Credentials("AKIDEXAMPLE", secret, token).get_frozen_credentials()
        got = signer.headers(creds, target, body, amz_date=at.strftime("%Y%m%dT%H%M%SZ"))
        assert got.pop("Host") == botocore_auth._host_from_url(endpoint)  # type: ignore[attr-defined]
        assert got == by_botocore(secret, at)


class _KeepAlive:
    """An HTTP/1.1 endpoint keeping connections open (closing one idle `idle_s`),
    answering OK, or stalling `stall_s` first; counts connections and requests."""

    def __init__(self, *, idle_s: float = 5.0, stall_s: float = 0.0) -> None:
        self.connections = 0
        self.requests = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_s  # the server closes a connection idle this long

            def setup(self) -> None:
                super().setup()
                server_self.connections += 1

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                server_self.requests += 1
                if stall_s:
                    time.sleep(stall_s)
                data = json.dumps(OK[1]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        # a client that timed out is gone when the stalled answer is written
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_connections_are_kept_alive_and_one_closed_while_idle_is_replaced() -> None:
    endpoint = _KeepAlive(idle_s=0.2)
    try:
        lean = _lean(endpoint.url, ddb_max_attempts=1)
        for _ in range(5):
            assert lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})["Item"]
        assert (endpoint.requests, endpoint.connections) == (5, 1)
        time.sleep(0.6)  # the server has closed the idle connection meanwhile
        answer = lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
        # noticed before sending: no failed attempt, a new connection
        assert answer["ResponseMetadata"]["RetryAttempts"] == 0
        assert (endpoint.requests, endpoint.connections) == (6, 2)
    finally:
        endpoint.close()


@pytest.mark.usefixtures("no_backoff")
def test_a_stalled_answer_is_botocores_read_timeout_retried() -> None:
    endpoint = _KeepAlive(stall_s=0.5)
    try:
        lean = _lean(endpoint.url, ddb_max_attempts=2, ddb_timeout_s=0.1)
        with pytest.raises(ReadTimeoutError):
            lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
        assert endpoint.requests == 2
        assert endpoint.connections == 2  # a timed-out connection is never reused
    finally:
        endpoint.close()


@pytest.mark.usefixtures("no_backoff")
def test_https_endpoints_are_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    endpoint = _KeepAlive()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    endpoint.server.socket = tls.wrap_socket(endpoint.server.socket, server_side=True)
    url = endpoint.url.replace("http:", "https:")
    try:
        # a certificate the default CA bundle does not vouch for: refused
        with pytest.raises(EndpointConnectionError):
            _lean(url, ddb_max_attempts=1).get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})
        # trusted through AWS_CA_BUNDLE, as botocore would: the answer comes over TLS,
        # the connection kept alive
        monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
        lean = _lean(url, ddb_max_attempts=1)
        for _ in range(2):
            assert lean.get_item(TableName="TESTX", Key={"Pk": {"S": "x"}})["Item"]
        assert endpoint.requests == 2
    finally:
        endpoint.close()


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://dynamodb.us-east-1.amazonaws.com/", "dynamodb.us-east-1.amazonaws.com", 443),
        ("http://127.0.0.1:8000/", "127.0.0.1", 8000),
        ("https://[::1]/", "::1", 443),
        ("http://[::1]/", "::1", 80),
    ],
)
def test_connections_go_to_the_endpoints_host_and_port(url: str, host: str, port: int) -> None:
    # http.client given the bare IPv6 host and no port would read "::1" as ":" port 1
    conn = ddb_lean._Connections(url, 1.0, 1).new()
    assert (conn.host, conn.port) == (host, port)
