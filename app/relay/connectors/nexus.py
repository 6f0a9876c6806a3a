"""Nexus: retailers on the Basic-auth API, stores on the AWS API behind a Cognito
client-credentials token (connectors.md §1).

The token is kept until shortly before its `expires_in` (the original ignored the
expiry and only refreshed on a 401; a 401 still refreshes and retries once). The
client id and secret come from the AWS Secrets Manager secret
`NEXUS_AWS_API_SECRET_NAME` (read with the static `NEXUS_AUTH_AWS_*` keys; its
`userPoolDomainName`/`userPoolRegion` give the token URL), or are given directly
(`NEXUS_COGNITO_CLIENT_ID`/`_SECRET` with `NEXUS_COGNITO_TOKEN_URL`: simulator,
tests). Every call is a GET: retried in place when the far side fails.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from app.relay.connectors.http import CallFailed, ConnectorHttp, join_url
from app.relay.connectors.settings import NexusSettings

SYSTEM = "Nexus"
#: a token is renewed this long before it expires
EXPIRY_MARGIN_S = 60.0


@dataclass(frozen=True)
class CognitoClient:
    token_url: str
    client_id: str
    client_secret: str


def client_from_secret(settings: NexusSettings) -> CognitoClient:
    """Read the Cognito client from AWS Secrets Manager (boto3; honours
    `AWS_ENDPOINT_URL_SECRETS_MANAGER`)."""
    import boto3

    sm = boto3.client(
        "secretsmanager",
        region_name=settings.auth_region,
        aws_access_key_id=settings.auth_access_key_id,
        aws_secret_access_key=settings.auth_secret_access_key,
    )
    raw = sm.get_secret_value(SecretId=settings.secret_name, VersionStage="AWSCURRENT")
    secret = json.loads(raw["SecretString"])
    url = settings.token_url or (
        f"https://{secret['userPoolDomainName']}.auth.{secret['userPoolRegion']}"
        ".amazoncognito.com/oauth2/token"
    )
    return CognitoClient(url, str(secret["clientId"]), str(secret["clientSecret"]))


class CognitoToken:
    """The AWS API's bearer token, fetched once and kept until it nearly expires."""

    def __init__(self, settings: NexusSettings, http: ConnectorHttp) -> None:
        self._settings = settings
        self._http = http
        self._lock = threading.Lock()
        self._client: CognitoClient | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetched = 0

    def _cognito_client(self) -> CognitoClient:
        if self._client is None:
            s = self._settings
            if s.client_id and s.client_secret and s.token_url:
                self._client = CognitoClient(s.token_url, s.client_id, s.client_secret)
            else:
                self._client = client_from_secret(s)
        return self._client

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        client = self._cognito_client()
        response = self._http.call(
            "cognito.token",
            "POST",
            client.token_url,
            idempotent=True,
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        body = response.json()
        lifetime = float(body.get("expires_in") or 3600)
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + max(lifetime - EXPIRY_MARGIN_S, lifetime / 2)
        self.fetched += 1


class NexusClient:
    def __init__(self, settings: NexusSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http
        self.token = CognitoToken(settings, http) if settings.aws_api_url else None

    def _basic_get(self, op: str, path: str) -> Any:
        try:
            response = self.http.call(
                op,
                "GET",
                join_url(self.settings.api_url, path),
                idempotent=True,
                auth=(self.settings.username, self.settings.password),
            )
        except CallFailed as exc:
            if exc.status == 404:
                return None
            raise
        return response.json()

    def retailer(self, retailer_id: str) -> dict[str, Any] | None:
        body = self._basic_get("nexus.retailer", f"retailers/{retailer_id}")
        return body if isinstance(body, dict) else None

    def subscriptions(self, retailer_id: str) -> list[dict[str, Any]] | None:
        body = self._basic_get("nexus.subscriptions", f"retailers/{retailer_id}/subscriptions")
        return [s for s in body if isinstance(s, dict)] if isinstance(body, list) else None

    def _aws_get(self, op: str, path: str, params: dict[str, str], absent: set[int]) -> Any:
        if self.token is None or not self.settings.aws_api_url:
            return None
        url = join_url(self.settings.aws_api_url, path)
        for attempt in (1, 2):
            token = self.token.get()
            headers = {"Authorization": f"Bearer {token}"}
            try:
                return self.http.call(
                    op, "GET", url, idempotent=True, params=params, headers=headers
                )
            except CallFailed as exc:
                if exc.status in absent:
                    return None
                if exc.status == 401 and attempt == 1:
                    self.token.invalidate(token)  # refresh and try once more
                    continue
                raise
        return None  # pragma: no cover - the loop returns or raises

    def store(self, location_id: str) -> dict[str, Any] | None:
        response = self._aws_get(
            "nexus.location", "nexus/location", {"location_id": location_id}, {400, 404}
        )
        data = response.json().get("data") if response is not None else None
        return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None

    def stores_of(self, retailer_id: str) -> list[dict[str, Any]] | None:
        params = {"retailer_id": retailer_id}
        response = self._aws_get(
            "nexus.retailer_locations", "nexus/retailerLocations", params, {404}
        )
        if response is None:
            return None
        data = response.json().get("data")
        return [s for s in data if isinstance(s, dict)] if isinstance(data, list) else []


def web2text_opted_out(subscriptions: list[dict[str, Any]] | None) -> bool:
    """The retailer is rejected when a live subscription has `web2text_opt_out`."""
    return any(
        s.get("status") != "Cancelled" and s.get("web2text_opt_out") is True
        for s in subscriptions or []
    )
