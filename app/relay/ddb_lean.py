"""A lean transport for DynamoDB's data-plane calls, with the low-level client's API.

Why: botocore spends ~1.5 ms of Python per call on the relay's small requests
(endpoint rules, a dozen event hooks, model-driven serialization, urllib3 through
its own request/response classes), about four times what the HTTP exchange
itself costs. A webhook makes six calls, so that overhead was the relay's largest
share of CPU per request. `LeanClient` makes the same JSON-protocol request with
well-kept pieces and nothing else per call:

- the endpoint comes from the botocore client built for the same settings
  (`meta.endpoint_url`: DynamoDB Local, or the regional AWS endpoint);
- credentials come from the same boto3 session (`get_frozen_credentials()` per
  call, so refreshed task-role credentials are picked up);
- requests are signed with Signature V4 by `_Signer`: the algorithm of botocore's
  `SigV4Auth` for this one request shape (POST, JSON body, the same signed
  headers), its derived key kept for the day (a test checks both sign alike);
- they travel over `_Connections`, a pool of keep-alive `http.client`
  connections with the same connect/read timeouts (urllib3's pool and response
  classes cost ~95 us of Python per call, twice what http.client itself does);
- answers are read with `json.loads`; their CRC32 (`x-amz-crc32`) is checked;
- errors raise botocore's modeled `ClientError` subclasses with the same
  `response` shape (`Error.Code`, `Error.Message`, extra members such as
  `CancellationReasons`), so callers cannot tell the difference;
- throttling, transient errors (5xx, connection errors, timeouts, CRC32
  mismatches) are retried like botocore's "standard" retry mode: at most
  `max_attempts` attempts, exponential backoff with full jitter (max 20 s).

Only the data-plane operations go this way (`LEAN_OPERATIONS`); everything else
(`describe_table`, `create_table`, `meta`, `exceptions`, paginators, ...) is the
botocore client's. `LeanTable` gives the resource `Table` API (Python values,
`Decimal` numbers, as boto3's `TypeSerializer`/`TypeDeserializer` write and read
them, the common types inline, the rest by them; tests compare) for
get/put/update/delete, and hands query/scan/batch_writer to the boto3 Table.
`W2T_DDB_LEAN=0` turns all of it off (plain botocore everywhere); so does a
proxy setting in the environment (`config.proxy_in_environment`: botocore knows
how to use one; this does not).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import random
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.httpsession import get_cert_path
from botocore.utils import normalize_url_path
from urllib3.util.wait import wait_for_read

log = logging.getLogger("app.relay.ddb")

#: operations LeanClient sends itself (the ones whose answers are plain JSON)
LEAN_OPERATIONS: dict[str, str] = {
    "get_item": "GetItem",
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "query": "Query",
    "scan": "Scan",
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
    "transact_get_items": "TransactGetItems",
    "transact_write_items": "TransactWriteItems",
}

#: error codes botocore's standard retry mode retries (throttling and transient)
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
    }
)
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
MAX_BACKOFF_S = 20.0

_TARGET_PREFIX = "DynamoDB_20120810."
_USER_AGENT = "web2text-relay lean-dynamodb"


class _Retryable(Exception):
    """An attempt that may be retried; `error` is what to raise after the last one."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):  # string/number sets as botocore accepts them
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} to DynamoDB")


def _decode_binary(value: Any) -> Any:
    """botocore hands binary attribute values (`B`, `BS`) back as bytes, not base64."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "B" and isinstance(v, str) and len(value) == 1:
                out[k] = base64.b64decode(v)
            elif k == "BS" and isinstance(v, list) and len(value) == 1:
                out[k] = [base64.b64decode(x) for x in v]
            else:
                out[k] = _decode_binary(v)
        return out
    if isinstance(value, list):
        return [_decode_binary(v) for v in value]
    return value


_SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"


class _Signer:
    """Signature V4 headers for the lean client's requests: POST to one endpoint,
    a JSON body, headers Content-Type, Host, X-Amz-Date, X-Amz-Target (and
    X-Amz-Security-Token with temporary credentials), the body's SHA-256 signed.

    It is botocore's `SigV4Auth.add_auth` for this one shape (the test compares
    the two): that generic signer re-parses the URL, builds an `HTTPHeaders`
    message and derives the signing key with four HMACs on every call, ~55 us of
    a call's ~0.4 ms of relay CPU. The endpoint's parts are worked out once here
    and the derived key is kept while the date and the secret key stay the same.
    """

    def __init__(self, endpoint_url: str, region: str, service: str) -> None:
        parts = urlsplit(endpoint_url)
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
            host = f"{host}:{parts.port}"
        #: the Host header sent, which must be the one signed
        self.host = host
        self._region, self._service = region, service
        path = quote(normalize_url_path(parts.path), safe="/~")
        query = (
            "&".join(
                f"{k}={v}"
                for k, v in sorted(pair.partition("=")[::2] for pair in parts.query.split("&"))
            )
            if parts.query
            else ""
        )
        self._request_head = f"POST\n{path}\n{query}\n"
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (date, secret, derived key)

    def _signing_key(self, secret: str, date: str) -> bytes:
        cached = self._key
        if cached[0] == date and cached[1] == secret:
            return cached[2]
        key = (f"AWS4{secret}").encode()
        for part in (date, self._region, self._service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        self._key = (date, secret, key)  # one tuple: threads see an old or a new one
        return key

    def headers(
        self, credentials: Any, target: str, body: bytes, *, amz_date: str | None = None
    ) -> dict[str, str]:
        """The request's headers with their `Authorization`, signed at `amz_date`
        (`YYYYMMDDTHHMMSSZ`, UTC; now by default)."""
        stamp = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        date = stamp[:8]
        token = credentials.token
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "Host": self.host,
            "X-Amz-Date": stamp,
            "X-Amz-Target": target,
        }
        canonical = (
            f"content-type:application/x-amz-json-1.0\nhost:{self.host}\nx-amz-date:{stamp}\n"
        )
        if token:
            headers["X-Amz-Security-Token"] = token
            canonical += f"x-amz-security-token:{' '.join(token.split())}\n"
            signed = "content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
        else:
            signed = "content-type;host;x-amz-date;x-amz-target"
        canonical += f"x-amz-target:{target}\n"
        request = f"{self._request_head}{canonical}\n{signed}\n{hashlib.sha256(body).hexdigest()}"
        scope = f"{date}/{self._region}/{self._service}/aws4_request"
        to_sign = (
            f"{_SIGV4_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
        )
        key = self._signing_key(credentials.secret_key, date)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"{_SIGV4_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return headers


class _Connections:
    """Keep-alive `http.client` connections to one endpoint, reused last-in first-out.

    As urllib3's pool did for the lean client (non-blocking, `retries=False`): a
    connection is taken for one exchange and given back only after its answer was
    read whole; a caller finding none idle opens a new one, and at most `size` are
    kept idle. One reused after the server closed it while idle (keep-alive
    timeout) is noticed before the request (its socket reads as ready: EOF) and
    replaced; a failure during an exchange closes the connection.
    """

    def __init__(
        self, endpoint_url: str, timeout_s: float, size: int, ca_bundle: str | None = None
    ) -> None:
        parts = urlsplit(endpoint_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        # explicit: http.client would read a bare IPv6 host ("::1") as host:port
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout_s
        self._size = size
        # the bundle botocore would verify against (AWS_CA_BUNDLE / ca_bundle), else its own
        self._context = (
            ssl.create_default_context(cafile=ca_bundle or get_cert_path(True))
            if self._https
            else None
        )
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def new(self) -> http.client.HTTPConnection:
        """A connection not yet connected (`connect()` opens it)."""
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def take(self) -> http.client.HTTPConnection:
        """An open idle connection the server has not closed, or a new unopened one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self.new()
            if conn.sock is not None and not wait_for_read(conn.sock, timeout=0.0):
                return conn
            conn.close()  # closed by the server while idle (or unreadable): drop it

    def give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._size:
                self._idle.append(conn)
                return
        conn.close()


class LeanClient:
    """The data-plane subset of a DynamoDB low-level client (attribute-value dicts)."""

    def __init__(
        self,
        botocore_client: Any,
        credentials: Any,
        *,
        region: str,
        timeout_s: float,
        max_attempts: int,
        on_call: Callable[[str], None] | None = None,
        pool_size: int = 50,
        ca_bundle: str | None = None,
    ) -> None:
        self._client = botocore_client
        self._credentials = credentials
        self._region = region
        self._max_attempts = max(1, max_attempts)
        self.on_call = on_call
        self.endpoint_url: str = str(botocore_client.meta.endpoint_url).rstrip("/") + "/"
        self._signer = _Signer(self.endpoint_url, region, "dynamodb")
        parts = urlsplit(self.endpoint_url)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._pool = _Connections(self.endpoint_url, timeout_s, pool_size, ca_bundle)
        for name, operation in LEAN_OPERATIONS.items():
            setattr(self, name, self._method(operation))

    @property
    def meta(self) -> Any:
        return self._client.meta

    @property
    def exceptions(self) -> Any:
        return self._client.exceptions

    def __getattr__(self, name: str) -> Any:
        # control-plane calls, waiters, paginators: the botocore client's own
        return getattr(self._client, name)

    def _method(self, operation: str) -> Callable[..., dict[str, Any]]:
        def call(**params: Any) -> dict[str, Any]:
            return self.call(operation, params)

        call.__name__ = operation
        return call

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Send one DynamoDB request (with the standard retries); the parsed answer."""
        if self.on_call is not None:
            self.on_call(operation)
        body = json.dumps(params, default=_json_default, separators=(",", ":")).encode()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(operation, body, attempt - 1)
            except _Retryable as exc:
                if attempt >= self._max_attempts:
                    raise exc.error from None
                delay = random.random() * min(MAX_BACKOFF_S, 2.0 ** (attempt - 1))
                log.debug(
                    "DynamoDB call retried",
                    extra={"operation": operation, "attempt": attempt, "error": str(exc.error)},
                )
                time.sleep(delay)

    def _exchange(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, bytes]:
        """POST `body`; (status, headers, answer body), or `_Retryable` with the
        exception botocore raises for the same transport failure."""
        url = self.endpoint_url
        conn = self._pool.take()
        if conn.sock is None:
            try:
                conn.connect()
            except TimeoutError as exc:
                conn.close()
                raise _Retryable(ConnectTimeoutError(endpoint_url=url, error=exc)) from None
            except OSError as exc:  # refused, unreachable, DNS, TLS handshake
                conn.close()
                raise _Retryable(EndpointConnectionError(endpoint_url=url, error=exc)) from None
        try:
            # one send for headers and body (http.client joins them when the body is bytes)
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except TimeoutError as exc:
            conn.close()
            raise _Retryable(ReadTimeoutError(endpoint_url=url, error=exc)) from None
        except (OSError, http.client.HTTPException) as exc:  # reset, closed, bad answer
            conn.close()
            raise _Retryable(ConnectionClosedError(endpoint_url=url, error=exc)) from None
        except BaseException:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self._pool.give_back(conn)
        return resp.status, resp.headers, data

    def _attempt(self, operation: str, body: bytes, retries: int) -> dict[str, Any]:
        headers = self._signer.headers(
            self._credentials.get_frozen_credentials(), _TARGET_PREFIX + operation, body
        )
        headers["User-Agent"] = _USER_AGENT  # not signed, as botocore's
        status, answer_headers, data = self._exchange(body, headers)
        crc = answer_headers.get("x-amz-crc32")
        if crc is not None and zlib.crc32(data) & 0xFFFFFFFF != int(crc):
            failed = _error_response("CRC32CheckFailed", "answer checksum mismatch", status)
            raise _Retryable(ClientError(failed, operation))  # type: ignore[arg-type]
        meta = {
            "RequestId": answer_headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "HTTPHeaders": {k.lower(): v for k, v in answer_headers.items()},
            "RetryAttempts": retries,
        }
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict):
            parsed = {}
        if status == 200:
            if b'"B":' in data or b'"BS":' in data:
                parsed = _decode_binary(parsed)
            parsed["ResponseMetadata"] = meta
            return parsed
        code = str(parsed.get("__type", "")).rsplit("#", 1)[-1] or str(status)
        message = str(parsed.get("message") or parsed.get("Message") or "")
        error = _error_response(code, message, status)
        error["ResponseMetadata"] = meta
        for key, value in parsed.items():
            if key not in ("__type", "message", "Message"):
                error[key] = value
        failure = self._client.exceptions.from_code(code)(error, operation)
        if code in RETRYABLE_CODES or status in RETRYABLE_STATUS:
            raise _Retryable(failure)
        raise failure


def _error_response(code: str, message: str, status: int) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


_SNAKE = {operation: name for name, operation in LEAN_OPERATIONS.items()}


class _Serializer(TypeSerializer):
    """boto3's TypeSerializer with the exact common types (str, dict, list, bool,
    None) written inline: its per-value chain of `isinstance` checks
    against abstract base classes and `getattr` dispatch cost ~0.3 ms for a lead
    item with its activity list. Everything else (sets, bytes, subclasses, floats'
    TypeError) is the base class's, which comes back here for nested values."""

    def serialize(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return {"S": value}
        if kind is dict:
            return {"M": {k: self.serialize(v) for k, v in value.items()}}
        if kind is list:
            return {"L": [self.serialize(v) for v in value]}
        if kind is bool:
            return {"BOOL": value}
        if value is None:
            return {"NULL": True}
        return super().serialize(value)  # numbers (a third check there) and the rest


_SERIALIZER = _Serializer()
_BASE_DESERIALIZER = TypeDeserializer()
_create_decimal = DYNAMODB_CONTEXT.create_decimal


def _read(value: Any) -> Any:
    """boto3's TypeDeserializer with the common types (S, M, L, N, BOOL, NULL) read
    inline: its per-value `getattr` dispatch was ~15% of a webhook's relay CPU for
    a lead item with its activity list. Every other type is the base class's."""
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "S":
            return inner
        if tag == "M":
            return {k: _read(v) for k, v in inner.items()}
        if tag == "L":
            return [_read(v) for v in inner]
        if tag == "N":
            return _create_decimal(inner)
        if tag == "BOOL":
            return inner
        if tag == "NULL":
            return None
    return _BASE_DESERIALIZER.deserialize(value)


def to_av(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python values (str, Decimal, int, bool, None, list, dict, sets) as attribute values."""
    return {k: _SERIALIZER.serialize(v) for k, v in item.items()}


def from_av(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _read(v) for k, v in item.items()}


#: request members holding attribute values (serialized), answers' (deserialized)
_AV_MAP_PARAMS = ("Key", "Item", "ExpressionAttributeValues", "ExclusiveStartKey")
_AV_MAP_ANSWERS = ("Item", "Attributes", "LastEvaluatedKey")


class LeanTable:
    """The boto3 resource `Table` API over `LeanClient` for item calls (get, put,
    update, delete: Python values in and out, exactly as the resource), the boto3
    Table itself for the rest (query/scan with condition objects, batch_writer)."""

    def __init__(self, client: LeanClient, table: Any) -> None:
        self._lean = client
        self._table = table
        self.name: str = table.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(params.get("ConditionExpression", ""), str):
            # a boto3 condition object: the resource knows how to build it
            method = getattr(self._table, _SNAKE[operation])
            return dict(method(**params))
        params["TableName"] = self.name
        for member in _AV_MAP_PARAMS:
            if member in params:
                params[member] = to_av(params[member])
        answer = self._lean.call(operation, params)
        for member in _AV_MAP_ANSWERS:
            if member in answer:
                answer[member] = from_av(answer[member])
        return answer

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self._call("GetItem", params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self._call("PutItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self._call("UpdateItem", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self._call("DeleteItem", params)
