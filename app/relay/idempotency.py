"""Idempotency records: "a repeat gets the first answer" across relay instances.

Every mutation that carries an idempotency key goes through `IdempotencyStore`:

1. `begin(key, fingerprint)` makes a conditional PutItem in
   `{P}_Web2Text_Idempotency` *before* any side effect. Exactly one caller wins the
   record (state `new`, with a lease token); everybody else sees `in_progress`
   (the winner is still working), `done` (the stored first answer) or an
   `IdempotencyConflict` (same key, different request).
2. The winner performs the operation and calls `complete(...)` with its answer,
   or `release(...)` when the operation failed in a way that must not be
   remembered (a 5xx, an exception): a retry with the same key then runs again.
3. A holder that crashed leaves an `in_progress` record behind; once its lease
   (default 30 s) has run out, the next `begin` takes it over with a conditional
   UpdateItem on the old lease token, so only one successor wins. Operations
   whose side effect is not itself idempotent (a Twilio message) must therefore
   check for an earlier attempt's effect before repeating it (see
   `app.relay.sends`).

Records expire through DynamoDB TTL (`ExpiresAt`, epoch seconds, 24 h). TTL
deletion is lazy (up to days late), so an expired record is treated as absent.

Keys are namespaced by a *scope* chosen by the caller (e.g. the caller's key
hash + route), so two API keys cannot collide on one idempotency key.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

#: Table name suffix; the full name is `{W2T_TABLE_PREFIX}_Web2Text_Idempotency`.
TABLE_SUFFIX = "Web2Text_Idempotency"
DEFAULT_TTL_SECONDS = 24 * 3600
DEFAULT_LEASE_SECONDS = 30.0
#: Longest accepted idempotency key (the desktop sends ULIDs/UUIDs; Stripe allows 255).
MAX_KEY_LENGTH = 255

#: CreateTable arguments (minus TableName) for this table; TTL on `ExpiresAt`.
TABLE_SPEC: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": "Key", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "Key", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}
TTL_ATTRIBUTE = "ExpiresAt"


class BeginState(StrEnum):
    NEW = "new"  # the caller holds the record and must run the operation
    IN_PROGRESS = "in_progress"  # another caller holds a live lease
    DONE = "done"  # the first answer is stored


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any  # JSON-compatible


@dataclass(frozen=True, slots=True)
class Begin:
    state: BeginState
    token: str | None = None  # lease token, set for NEW
    response: StoredResponse | None = None  # set for DONE
    taken_over: bool = False  # NEW after an expired lease: an earlier attempt may have acted
    retry_after: float | None = None  # IN_PROGRESS: seconds until the lease runs out


class IdempotencyConflict(Exception):
    """The key was first used with a different request body."""

    reason = "idempotency_conflict"


class InvalidIdempotencyKey(ValueError):
    reason = "invalid_idempotency_key"


def validate_key(key: str) -> str:
    """Reject keys that are empty, too long or contain control characters."""
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or any(ord(c) < 0x20 for c in key):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters"
        )
    return key


def fingerprint(*parts: str | bytes) -> str:
    """A stable hash of what identifies "the same request" (method, path, body...)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def scoped_key(scope: str, key: str) -> str:
    return f"{scope}|{key}"


class IdempotencyStore:
    """Idempotency records in one DynamoDB table.

    `client` is a plain boto3 low-level client taking attribute-value dicts (e.g.
    `Tables.client`), not a resource's `meta.client`; it is thread-safe.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ddb = client
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = lease_seconds
        self._clock = clock

    # -- protocol -----------------------------------------------------------------

    def begin(self, key: str, request_fingerprint: str) -> Begin:
        """Claim `key` for this request, or report who holds it / what it answered."""
        for _ in range(5):  # only loops when a competing takeover changed the record
            now = self._clock()
            token = uuid.uuid4().hex
            try:
                self._ddb.put_item(
                    TableName=self.table_name,
                    Item={
                        "Key": {"S": key},
                        "Fingerprint": {"S": request_fingerprint},
                        "State": {"S": BeginState.IN_PROGRESS.value},
                        "Token": {"S": token},
                        "LeaseUntil": {"N": _num(now + self.lease_seconds)},
                        "CreatedAt": {"N": _num(now)},
                        TTL_ATTRIBUTE: {"N": str(int(now + self.ttl_seconds))},
                    },
                    # Absent, or present but past its TTL (deletion is lazy).
                    ConditionExpression="attribute_not_exists(#k) OR #exp < :now",
                    ExpressionAttributeNames={"#k": "Key", "#exp": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":now": {"N": str(int(now))}},
                )
                return Begin(BeginState.NEW, token=token)
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
            item = self._get(key)
            if item is None:  # expired and deleted between the two calls
                continue
            if item["Fingerprint"]["S"] != request_fingerprint:
                raise IdempotencyConflict(
                    "This Idempotency-Key was already used with a different request"
                )
            if item["State"]["S"] == BeginState.DONE.value:
                return Begin(BeginState.DONE, response=_stored(item))
            lease_until = float(item["LeaseUntil"]["N"])
            if lease_until > now:
                return Begin(BeginState.IN_PROGRESS, retry_after=lease_until - now)
            # The holder's lease ran out (it crashed or hung): take over, but only
            # if nobody else did first (condition on the old token).
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key={"Key": {"S": key}},
                    UpdateExpression="SET #tok = :new, LeaseUntil = :lease",
                    ConditionExpression="#tok = :old AND #st = :inprog",
                    ExpressionAttributeNames={"#tok": "Token", "#st": "State"},
                    ExpressionAttributeValues={
                        ":new": {"S": token},
                        ":old": item["Token"],
                        ":inprog": {"S": BeginState.IN_PROGRESS.value},
                        ":lease": {"N": _num(now + self.lease_seconds)},
                    },
                )
                return Begin(BeginState.NEW, token=token, taken_over=True)
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        # Five lost races in a row: let the caller retry later rather than spin.
        return Begin(BeginState.IN_PROGRESS, retry_after=1.0)

    def complete(self, key: str, token: str, status_code: int, body: Any) -> StoredResponse:
        """Store the answer. Returns the answer that is stored from now on.

        If a successor took the record over and completed first, its answer stays
        (first answer wins) and is returned, so every caller reports the same.
        """
        payload = json.dumps(body, separators=(",", ":"), default=str)
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key={"Key": {"S": key}},
                UpdateExpression="SET #st = :done, StatusCode = :code, Body = :body",
                ConditionExpression="attribute_exists(#k) AND #st = :inprog",
                ExpressionAttributeNames={"#k": "Key", "#st": "State"},
                ExpressionAttributeValues={
                    ":done": {"S": BeginState.DONE.value},
                    ":inprog": {"S": BeginState.IN_PROGRESS.value},
                    ":code": {"N": str(int(status_code))},
                    ":body": {"S": payload},
                },
            )
            return StoredResponse(status_code, json.loads(payload))
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        item = self._get(key)
        if item is not None and item["State"]["S"] == BeginState.DONE.value:
            return _stored(item)
        # The record vanished (released by a successor?): store ours unconditionally
        # is wrong (it may not be the first); just report what we did.
        return StoredResponse(status_code, json.loads(payload))

    def release(self, key: str, token: str) -> None:
        """Forget an attempt that produced no answer worth replaying (5xx, crash-like)."""
        try:
            self._ddb.delete_item(
                TableName=self.table_name,
                Key={"Key": {"S": key}},
                ConditionExpression="#tok = :tok AND #st = :inprog",
                ExpressionAttributeNames={"#tok": "Token", "#st": "State"},
                ExpressionAttributeValues={
                    ":tok": {"S": token},
                    ":inprog": {"S": BeginState.IN_PROGRESS.value},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def abandon(self, key: str, token: str) -> None:
        """Give the record up *without* forgetting it: the lease ends now.

        For attempts whose side effect may have happened (a Twilio call timed
        out): the next `begin` takes the record over at once, with
        `taken_over=True`, so it knows to look for the earlier effect first.
        """
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key={"Key": {"S": key}},
                UpdateExpression="SET LeaseUntil = :zero",
                ConditionExpression="#tok = :tok AND #st = :inprog",
                ExpressionAttributeNames={"#tok": "Token", "#st": "State"},
                ExpressionAttributeValues={
                    ":tok": {"S": token},
                    ":inprog": {"S": BeginState.IN_PROGRESS.value},
                    ":zero": {"N": "0"},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def extend(self, key: str, token: str) -> bool:
        """Renew the lease of a long operation; False when it was taken over."""
        try:
            self._ddb.update_item(
                TableName=self.table_name,
                Key={"Key": {"S": key}},
                UpdateExpression="SET LeaseUntil = :lease",
                ConditionExpression="#tok = :tok AND #st = :inprog",
                ExpressionAttributeNames={"#tok": "Token", "#st": "State"},
                ExpressionAttributeValues={
                    ":tok": {"S": token},
                    ":inprog": {"S": BeginState.IN_PROGRESS.value},
                    ":lease": {"N": _num(self._clock() + self.lease_seconds)},
                },
            )
            return True
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return False

    def _get(self, key: str) -> dict[str, Any] | None:
        resp = self._ddb.get_item(
            TableName=self.table_name, Key={"Key": {"S": key}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = resp.get("Item")
        if item is None:
            return None
        if int(item.get(TTL_ATTRIBUTE, {"N": "0"})["N"]) < int(self._clock()):
            return None
        return item


def _num(value: float) -> str:
    return f"{value:.3f}"


def _stored(item: dict[str, Any]) -> StoredResponse:
    return StoredResponse(int(item["StatusCode"]["N"]), json.loads(item["Body"]["S"]))


def _conditional_failed(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# -- FastAPI helper -------------------------------------------------------------------

REPLAY_HEADER = "Idempotent-Replayed"


def _error(
    status: int, reason: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"code": status, "message": message, "reason": reason}, status_code=status, headers=headers
    )


async def run_idempotent(
    store: IdempotencyStore,
    *,
    scope: str,
    key: str | None,
    request_fingerprint: str,
    call: Callable[[Begin], Awaitable[Response]],
    remember: Callable[[int], bool] | None = None,
) -> Response:
    """Run `call` at most once per (scope, key); repeats get the first answer.

    `call` receives the `Begin` (so it can see `taken_over` and look for an
    earlier attempt's effect) and returns a JSON `Response`. Answers below 500 are
    stored and replayed (with header `Idempotent-Replayed: true`); after a 5xx or
    an exception the record is abandoned (not deleted): a retry with the same
    key runs again at once, with `taken_over=True`, because the failed attempt
    may have had its side effect. `remember(status)` narrows what is stored
    (e.g. only 2xx when rejections have no side effect and the client retries
    them later with the same key): an answer below 500 that is not remembered
    deletes the record. Without a key `call` simply runs. Errors: 400
    `invalid_idempotency_key`, 422 `idempotency_conflict`, 409
    `idempotency_in_progress` (with Retry-After).
    """
    if key is None:
        return await call(Begin(BeginState.NEW))
    try:
        key = validate_key(key)
    except InvalidIdempotencyKey as exc:
        return _error(400, exc.reason, str(exc))
    record_key = scoped_key(scope, key)
    try:
        begin = await run_in_threadpool(store.begin, record_key, request_fingerprint)
    except IdempotencyConflict as exc:
        return _error(422, exc.reason, str(exc))
    earlier = _earlier_answer(begin)
    if earlier is not None:
        return earlier
    assert begin.token is not None
    try:
        response = await call(begin)
    except BaseException:
        await run_in_threadpool(store.abandon, record_key, begin.token)
        raise
    return await _settle(store, record_key, begin.token, response, remember)


def _earlier_answer(begin: Begin) -> Response | None:
    """The answer for a key already done (replayed) or still running (409); None
    when this request is the one to run."""
    if begin.state is BeginState.DONE:
        assert begin.response is not None
        return JSONResponse(
            begin.response.body,
            status_code=begin.response.status_code,
            headers={REPLAY_HEADER: "true"},
        )
    if begin.state is BeginState.IN_PROGRESS:
        wait = max(1, int((begin.retry_after or 1.0) + 0.999))
        return _error(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed; retry later",
            headers={"Retry-After": str(wait)},
        )
    return None


async def _settle(
    store: IdempotencyStore,
    record_key: str,
    token: str,
    response: Response,
    remember: Callable[[int], bool] | None,
) -> Response:
    """Store the answer of the run for replay, or give the record up: abandoned
    after a 5xx (a retry runs again, taking over), released when not remembered or
    not replayable. Returns what the client gets (the stored answer when another
    holder completed the record first)."""
    if response.status_code >= 500:
        await run_in_threadpool(store.abandon, record_key, token)
        return response
    if remember is not None and not remember(response.status_code):
        await run_in_threadpool(store.release, record_key, token)
        return response
    body = _json_body(response)
    if body is _NOT_JSON or _too_big(body):
        # Only JSON answers that fit in one record can be replayed; forget the record
        # rather than lie later (or fail the request after its side effect).
        await run_in_threadpool(store.release, record_key, token)
        return response
    stored = await run_in_threadpool(store.complete, record_key, token, response.status_code, body)
    if stored.status_code != response.status_code or stored.body != body:
        return JSONResponse(
            stored.body, status_code=stored.status_code, headers={REPLAY_HEADER: "true"}
        )
    return response


_NOT_JSON = object()
#: the largest answer kept for replay (a DynamoDB item holds at most 400 KB)
MAX_STORED_BODY = 300_000


def _too_big(body: Any) -> bool:
    """Whether the stored form of `body` (as `complete` writes it) passes the bound."""
    return len(json.dumps(body, separators=(",", ":"), default=str)) > MAX_STORED_BODY


def _json_body(response: Response) -> Any:
    raw = getattr(response, "body", None)
    if not isinstance(raw, bytes | bytearray | memoryview):
        return _NOT_JSON
    if not raw:
        return None
    try:
        return json.loads(bytes(raw))
    except ValueError:
        return _NOT_JSON


async def request_fingerprint(request: Request, *extra: str) -> str:
    """Fingerprint of method + path + query + body (+ extras such as the caller id)."""
    body = await request.body()
    return fingerprint(request.method, request.url.path, request.url.query, body, *extra)
