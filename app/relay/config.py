"""Relay configuration, read once from the environment.

Every setting the relay needs lives here so that a missing or malformed value
stops the process at start-up with a message naming the variable, instead of
failing on the first request that happens to need it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from app.relay.connectors.settings import ConnectorSettings

ALLOWED_PREFIXES = ("PROD", "DEV", "TEST")
#: the contract: a revoked key stops working within 5 s on every instance
KEY_CACHE_TTL_MAX = 5.0


class ConfigError(Exception):
    """The environment does not describe a usable relay."""


def _validate_prefix(prefix: str) -> str:
    if not prefix:
        raise ConfigError("W2T_TABLE_PREFIX is missing (expected PROD, DEV or TEST)")
    if not any(prefix.startswith(p) for p in ALLOWED_PREFIXES):
        raise ConfigError(
            f"W2T_TABLE_PREFIX={prefix!r} is not valid (expected PROD, DEV, TEST or TEST<suffix>)"
        )
    if not all(c.isalnum() or c in "_-." for c in prefix):
        raise ConfigError(f"W2T_TABLE_PREFIX={prefix!r} may only hold letters, digits, _ - .")
    return prefix


def _validate_url(name: str, value: str | None, *, required: bool) -> str | None:
    if not value:
        if required:
            raise ConfigError(f"{name} is missing")
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL")
    return value.rstrip("/")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration where 0 means "the default" (a stream cannot poll without pause)."""
    return _float(env, name, default) or default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_float(env, name, default))


_OFF = ("0", "false", "no", "off")


def _key_cache_ttl(env: Mapping[str, str]) -> float:
    value = _float(env, "W2T_KEY_CACHE_TTL", 3.0)
    if value > KEY_CACHE_TTL_MAX:
        raise ConfigError(
            f"W2T_KEY_CACHE_TTL={value:g} is too long: a revoked key must stop working "
            f"within {KEY_CACHE_TTL_MAX:g} s"
        )
    return value


def _twilio_account(env: Mapping[str, str], required: bool) -> tuple[str, str, str | None]:
    """The Twilio account SID, auth token and messaging service SID, checked."""
    sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
    token = env.get("TWILIO_AUTH_TOKEN", "").strip()
    missing = [n for n, v in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token)) if not v]
    if required and missing:
        raise ConfigError(f"{' and '.join(missing)} missing")
    if sid and not sid.startswith("AC"):
        raise ConfigError("TWILIO_ACCOUNT_SID must start with 'AC'")
    mss = env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip() or None
    if mss and not mss.startswith("MG"):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID must start with 'MG'")
    return sid, token, mss


def proxy_in_environment(env: Mapping[str, str]) -> bool:
    """Whether `env` names a proxy (a non-empty `*_proxy` in any case other than
    `no_proxy`, which alone sends nothing through a proxy). requests (Twilio) and
    botocore read them; the fast path that skips that reading (the Twilio session
    without `trust_env`) is only taken when this is False."""
    return any(
        name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value.strip()
        for name, value in env.items()
    )


def ca_bundle_in_environment(env: Mapping[str, str]) -> str | None:
    """The CA bundle requests would verify with, from `env` (as its
    `merge_environment_settings` works it out)."""
    return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or None


@dataclass(frozen=True)
class Settings:
    """Everything the relay reads from its environment (see docs/relay.md)."""

    table_prefix: str
    dynamodb_endpoint: str | None = None
    aws_region: str = "us-east-1"
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    environment: str = "development"
    # tunables (environment W2T_*; defaults suit production)
    max_body_bytes: int = 64 * 1024
    ddb_timeout_s: float = 5.0
    ddb_max_attempts: int = 4
    twilio_timeout_s: float = 10.0
    twilio_max_attempts: int = 4
    sweeper_interval_s: float = 15.0
    stuck_after_s: float = 30.0
    reconcile_interval_s: float = 300.0
    pool_refresh_s: float = 60.0
    #: how long an instance reuses an API-key record or a retailer/location item it
    #: read (0: always read); bounds how late a revocation elsewhere takes effect
    cache_ttl_s: float = 15.0
    #: how long an instance reuses a Twilio Lookup line type per phone (0: never)
    lookup_cache_ttl_s: float = 24 * 3600.0
    #: how long an instance reuses an API-key record (at most KEY_CACHE_TTL_MAX: a key
    #: revoked anywhere stops working everywhere, open streams included, within 5 s)
    key_cache_ttl_s: float = 3.0
    # abuse limits (docs/relay.md "Abuse limits"); every one holds across instances
    #: requests per minute of a lead-service key without its own `--rate`
    key_rate_per_min: int = 120
    #: new leads one phone may get per retailer per 24 h
    phone_leads_per_day: int = 5
    #: staff texts per minute, per staff member and per conversation
    staff_send_rate_per_min: int = 30
    conversation_send_rate_per_min: int = 10
    #: open `/v1/stream` connections per staff key
    streams_per_key: int = 5
    #: open conversations per Web2Text number (0: as many as the pool allows)
    max_open_conversations: int = 50
    #: a conversation whose customer has not written for this long is closed (0: never)
    idle_close_after_s: float = 72 * 3600.0
    idle_close_interval_s: float = 300.0
    #: free pool numbers for an address under which the pool counts as low (warning)
    pool_low_water: int = 5
    #: how long a lead waits for Twilio Lookup to answer before it is given up
    lookup_wait_s: float = 24 * 3600.0
    #: how often an instance looks for scheduled texts that are due
    schedule_interval_s: float = 5.0
    #: how long an instance's claim on a scheduled text lasts before another may take it
    #: over (longer than a send can take: the taker looks for the text before sending)
    schedule_lease_s: float = 120.0
    #: bearer token of GET /metrics (unset: /metrics answers 404)
    metrics_token: str = field(default="", repr=False)
    background: bool = True
    #: how long the change log keeps a change (DynamoDB TTL; 0: forever); a desktop
    #: whose cursor is older is answered 410 `cursor_expired` and starts again
    change_retention_days: float = 30.0
    #: `GET /v1/snapshot` answers (off: 404, and desktops replay the change log)
    snapshot_bootstrap: bool = True
    #: how often an open `/v1/stream` looks for changes written by other instances
    stream_poll_s: float = 0.2
    #: how often an idle stream sends a heartbeat comment (keeps proxies from closing it)
    stream_heartbeat_s: float = 15.0
    #: how often an open stream re-checks its key through the key cache (a revoked
    #: key's stream ends within the 5 s revocation bound)
    stream_reauth_s: float = 1.0
    #: how long "viewing" and "typing" hold without a renewal (app.relay.presence)
    presence_viewing_hold_s: float = 45.0
    presence_typing_hold_s: float = 8.0
    #: how old a process's view of a location's presence may be
    presence_max_age_s: float = 1.0
    #: how long an idempotency record's holder may work before another may take over
    idempotency_lease_s: float = 30.0
    #: the environment names an HTTP(S) proxy (the Twilio session then reads it)
    proxy_configured: bool = False
    #: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, given to the Twilio session
    ca_bundle: str | None = None
    #: lead-tracking connectors and Nexus (RLM_*, DHQ_*, BOTPRESS_*, ACTON_*, FF_API_URL,
    #: NEXUS_*); None: none configured
    connectors: ConnectorSettings | None = None
    #: the desktop versions this relay accepts (`GET /v1/me`); None: any
    min_app_version: str | None = None
    latest_app_version: str | None = None

    @property
    def production(self) -> bool:
        return self.environment.lower() in ("production", "prod")

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_twilio: bool = True
    ) -> Settings:
        """Build settings from `env` (default os.environ); `ConfigError` names what is wrong."""
        env = os.environ if env is None else env
        prefix = _validate_prefix(env.get("W2T_TABLE_PREFIX", "").strip())
        endpoint = _validate_url(
            "W2T_DYNAMODB_ENDPOINT", env.get("W2T_DYNAMODB_ENDPOINT"), required=False
        )
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        sid, token, mss = _twilio_account(env, require_twilio)
        base = _validate_url("W2T_TWILIO_BASE_URL", env.get("W2T_TWILIO_BASE_URL"), required=False)
        public = _validate_url("W2T_PUBLIC_URL", env.get("W2T_PUBLIC_URL"), required=require_twilio)
        environment = env.get("W2T_ENVIRONMENT", "development").strip() or "development"
        from app.relay.connectors.settings import ConnectorSettings

        connectors = ConnectorSettings.from_env(env)
        return cls(
            table_prefix=prefix,
            dynamodb_endpoint=endpoint,
            aws_region=region,
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_messaging_service_sid=mss,
            twilio_base_url=base,
            public_url=public or "http://127.0.0.1:8080",
            environment=environment,
            **_tuning_from_env(env),
            metrics_token=env.get("W2T_METRICS_TOKEN", "").strip(),
            background=env.get("W2T_BACKGROUND", "1").strip().lower() not in _OFF,
            snapshot_bootstrap=env.get("W2T_SNAPSHOT_BOOTSTRAP", "1").strip().lower() not in _OFF,
            proxy_configured=proxy_in_environment(env),
            ca_bundle=ca_bundle_in_environment(env),
            connectors=connectors,
            min_app_version=_app_version(env, "W2T_MIN_APP_VERSION"),
            latest_app_version=_app_version(env, "W2T_LATEST_APP_VERSION"),
        )


def _tuning_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The timeouts, intervals, caches and rate limits (`Settings` fields by name)."""
    return dict(
        max_body_bytes=_int(env, "W2T_MAX_BODY_BYTES", 64 * 1024),
        ddb_timeout_s=_float(env, "W2T_DDB_TIMEOUT", 5.0),
        ddb_max_attempts=max(1, _int(env, "W2T_DDB_MAX_ATTEMPTS", 4)),
        twilio_timeout_s=_float(env, "W2T_TWILIO_TIMEOUT", 10.0),
        twilio_max_attempts=max(1, _int(env, "W2T_TWILIO_MAX_ATTEMPTS", 4)),
        sweeper_interval_s=_float(env, "W2T_SWEEPER_INTERVAL", 15.0),
        stuck_after_s=_float(env, "W2T_STUCK_AFTER", 30.0),
        reconcile_interval_s=_float(env, "W2T_RECONCILE_INTERVAL", 300.0),
        pool_refresh_s=_float(env, "W2T_POOL_REFRESH", 60.0),
        cache_ttl_s=max(0.0, _float(env, "W2T_CACHE_TTL", 15.0)),
        lookup_cache_ttl_s=max(0.0, _float(env, "W2T_LOOKUP_CACHE_TTL", 24 * 3600.0)),
        key_cache_ttl_s=_key_cache_ttl(env),
        key_rate_per_min=_int(env, "W2T_KEY_RATE", 120),
        phone_leads_per_day=_int(env, "W2T_PHONE_LEADS_PER_DAY", 5),
        staff_send_rate_per_min=_int(env, "W2T_STAFF_SEND_RATE", 30),
        conversation_send_rate_per_min=_int(env, "W2T_CONVERSATION_SEND_RATE", 10),
        streams_per_key=_int(env, "W2T_STREAMS_PER_KEY", 5),
        max_open_conversations=_int(env, "W2T_MAX_OPEN_CONVERSATIONS", 50),
        idle_close_after_s=_float(env, "W2T_IDLE_CLOSE_AFTER", 72 * 3600.0),
        idle_close_interval_s=_float(env, "W2T_IDLE_CLOSE_INTERVAL", 300.0),
        pool_low_water=_int(env, "W2T_POOL_LOW_WATER", 5),
        lookup_wait_s=_float(env, "W2T_LOOKUP_WAIT", 24 * 3600.0),
        schedule_interval_s=_float(env, "W2T_SCHEDULE_INTERVAL", 5.0),
        schedule_lease_s=_float(env, "W2T_SCHEDULE_LEASE", 120.0),
        change_retention_days=_float(env, "W2T_CHANGE_RETENTION_DAYS", 30.0),
        stream_poll_s=_positive(env, "W2T_STREAM_POLL", 0.2),
        stream_heartbeat_s=_positive(env, "W2T_STREAM_HEARTBEAT", 15.0),
        stream_reauth_s=_positive(env, "W2T_STREAM_REAUTH", 1.0),
        idempotency_lease_s=_positive(env, "W2T_IDEMPOTENCY_LEASE", 30.0),
    )


def _app_version(env: Mapping[str, str], name: str) -> str | None:
    from app.core.versions import is_version

    value = env.get(name, "").strip()
    if value and not is_version(value):
        raise ConfigError(f"{name} must be a version such as 1.4.2, not {value!r}")
    return value or None
