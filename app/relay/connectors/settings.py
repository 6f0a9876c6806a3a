"""The connectors' configuration, read with the relay's `Settings` (the original
service's variable names, plus `BOTPRESS_API_URL`, the direct Cognito client and
the `W2T_CONNECTOR_*` tunables). A system is configured when its required
variables are set; a system set only in part stops the relay naming what is
missing. Secrets are kept out of `repr` (never logged)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from app.relay.config import ConfigError

BOTPRESS_CLOUD_URL = "https://api.botpress.cloud"
BOTPRESS_TABLE = "Int_Connor_Conversations_Table"


def _url(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL")
    return value


def _required(env: Mapping[str, str], names: tuple[str, ...], system: str) -> dict[str, str]:
    """Every one of `names` when any is set; {} when none is; else ConfigError."""
    values = {n: env.get(n, "").strip() for n in names}
    if not any(values.values()):
        return {}
    missing = [n for n, v in values.items() if not v]
    if missing:
        given = ", ".join(n for n, v in values.items() if v)
        raise ConfigError(f"{', '.join(missing)} missing ({system}: {given} set)")
    return values


@dataclass(frozen=True)
class RlmSettings:
    api_url: str
    god_api_key: str = field(default="", repr=False)
    god_email: str = ""
    api_key_override: str = field(default="", repr=False)
    timeout_s: float = 60.0


@dataclass(frozen=True)
class DhqSettings:
    api_url: str
    api_key: str = field(repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class BotpressSettings:
    api_token: str = field(repr=False)
    bot_id: str
    workspace_id: str
    api_url: str = BOTPRESS_CLOUD_URL
    table: str = BOTPRESS_TABLE
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ActOnSettings:
    base_url: str
    username: str
    password: str = field(repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class FloorForceSettings:
    api_url: str
    timeout_s: float = 10.0


@dataclass(frozen=True)
class NexusSettings:
    """Retailers on `api_url` (Basic auth); stores on `aws_api_url` (a Cognito
    client-credentials token: the client from the AWS Secrets Manager secret
    `secret_name`, or given directly as `client_id`/`client_secret`)."""

    api_url: str
    username: str
    password: str = field(repr=False)
    aws_api_url: str | None = None
    secret_name: str | None = None
    auth_access_key_id: str | None = field(default=None, repr=False)
    auth_secret_access_key: str | None = field(default=None, repr=False)
    auth_region: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class ConnectorSettings:
    rlm: RlmSettings | None = None
    dhq: DhqSettings | None = None
    botpress: BotpressSettings | None = None
    acton: ActOnSettings | None = None
    floorforce: FloorForceSettings | None = None
    nexus: NexusSettings | None = None
    #: attempts of one call when the far side says it did nothing (connection
    #: refused, 429, 502, 503), with exponential backoff from `backoff_s`
    max_attempts: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    #: when set, every connector's request timeout (tests)
    timeout_override_s: float | None = None
    #: seconds a Nexus retailer/store read is reused (0: always read)
    nexus_cache_ttl_s: float = 300.0

    @property
    def any(self) -> bool:
        return any((self.rlm, self.dhq, self.botpress, self.acton, self.floorforce))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectorSettings:
        timeout = _number(env, "W2T_CONNECTOR_TIMEOUT", 0.0)
        return cls(
            rlm=_rlm(env),
            dhq=_dhq(env),
            botpress=_botpress(env),
            acton=_acton(env),
            floorforce=_floorforce(env),
            nexus=_nexus(env),
            max_attempts=max(1, int(_number(env, "W2T_CONNECTOR_MAX_ATTEMPTS", 3))),
            backoff_s=_number(env, "W2T_CONNECTOR_BACKOFF", 0.5),
            backoff_max_s=_number(env, "W2T_CONNECTOR_BACKOFF_MAX", 8.0),
            timeout_override_s=timeout or None,
            nexus_cache_ttl_s=_number(env, "NEXUS_CACHE_TTL", 300.0),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


def _rlm(env: Mapping[str, str]) -> RlmSettings | None:
    if not env.get("RLM_API_URL", "").strip():
        for name in ("RLM_GOD_API_KEY", "RLM_GOD_EMAIL", "RLM_API_KEY_OVERRIDE"):
            if env.get(name, "").strip():
                raise ConfigError(f"RLM_API_URL missing (RLM: {name} set)")
        return None
    god = _required(env, ("RLM_GOD_API_KEY", "RLM_GOD_EMAIL"), "RLM location mapping")
    return RlmSettings(
        api_url=_url(env, "RLM_API_URL"),
        god_api_key=god.get("RLM_GOD_API_KEY", ""),
        god_email=god.get("RLM_GOD_EMAIL", ""),
        api_key_override=env.get("RLM_API_KEY_OVERRIDE", "").strip(),
    )


def _dhq(env: Mapping[str, str]) -> DhqSettings | None:
    values = _required(env, ("DHQ_API_URL", "DHQ_API_KEY"), "DHQ")
    if not values:
        return None
    return DhqSettings(api_url=_url(env, "DHQ_API_URL"), api_key=values["DHQ_API_KEY"])


def _botpress(env: Mapping[str, str]) -> BotpressSettings | None:
    names = ("BOTPRESS_API_TOKEN", "BOTPRESS_BOT_ID", "BOTPRESS_WORKSPACE_ID")
    values = _required(env, names, "Botpress")
    if not values:
        if env.get("BOTPRESS_API_URL", "").strip():
            raise ConfigError(f"{', '.join(names)} missing (Botpress: BOTPRESS_API_URL set)")
        return None
    url = _url(env, "BOTPRESS_API_URL") if env.get("BOTPRESS_API_URL") else BOTPRESS_CLOUD_URL
    return BotpressSettings(
        api_token=values["BOTPRESS_API_TOKEN"],
        bot_id=values["BOTPRESS_BOT_ID"],
        workspace_id=values["BOTPRESS_WORKSPACE_ID"],
        api_url=url,
        table=env.get("BOTPRESS_TABLE", "").strip() or BOTPRESS_TABLE,
    )


def _acton(env: Mapping[str, str]) -> ActOnSettings | None:
    names = (
        "ACTON_BASE_URL",
        "ACTON_USERNAME",
        "ACTON_PASSWORD",
        "ACTON_CLIENT_ID",
        "ACTON_CLIENT_SECRET",
    )
    values = _required(env, names, "Act-On")
    if not values:
        return None
    return ActOnSettings(
        base_url=_url(env, "ACTON_BASE_URL"),
        username=values["ACTON_USERNAME"],
        password=values["ACTON_PASSWORD"],
        client_id=values["ACTON_CLIENT_ID"],
        client_secret=values["ACTON_CLIENT_SECRET"],
    )


def _floorforce(env: Mapping[str, str]) -> FloorForceSettings | None:
    if not env.get("FF_API_URL", "").strip():
        return None
    return FloorForceSettings(api_url=_url(env, "FF_API_URL"))


def _nexus(env: Mapping[str, str]) -> NexusSettings | None:
    basic = _required(env, ("NEXUS_API_URL", "NEXUS_API_USERNAME", "NEXUS_API_PASSWORD"), "Nexus")
    if not basic:
        if env.get("NEXUS_AWS_API_URL", "").strip():
            raise ConfigError("NEXUS_API_URL missing (Nexus: NEXUS_AWS_API_URL set)")
        return None
    aws_url = _url(env, "NEXUS_AWS_API_URL") if env.get("NEXUS_AWS_API_URL") else None
    direct = _required(
        env, ("NEXUS_COGNITO_CLIENT_ID", "NEXUS_COGNITO_CLIENT_SECRET"), "Nexus Cognito client"
    )
    secret = _required(
        env,
        (
            "NEXUS_AWS_API_SECRET_NAME",
            "NEXUS_AUTH_AWS_ACCESS_KEY_ID",
            "NEXUS_AUTH_AWS_SECRET_ACCESS_KEY",
            "NEXUS_AUTH_AWS_REGION",
        ),
        "Nexus Cognito secret",
    )
    if aws_url and not (direct or secret):
        raise ConfigError(
            "NEXUS_AWS_API_SECRET_NAME (with NEXUS_AUTH_AWS_*) or NEXUS_COGNITO_CLIENT_ID/"
            "NEXUS_COGNITO_CLIENT_SECRET missing (Nexus: NEXUS_AWS_API_URL set)"
        )
    token_url = env.get("NEXUS_COGNITO_TOKEN_URL", "").strip()
    if direct and not token_url:
        raise ConfigError("NEXUS_COGNITO_TOKEN_URL missing (Nexus: NEXUS_COGNITO_CLIENT_ID set)")
    return NexusSettings(
        api_url=_url(env, "NEXUS_API_URL"),
        username=basic["NEXUS_API_USERNAME"],
        password=basic["NEXUS_API_PASSWORD"],
        aws_api_url=aws_url,
        secret_name=secret.get("NEXUS_AWS_API_SECRET_NAME"),
        auth_access_key_id=secret.get("NEXUS_AUTH_AWS_ACCESS_KEY_ID"),
        auth_secret_access_key=secret.get("NEXUS_AUTH_AWS_SECRET_ACCESS_KEY"),
        auth_region=secret.get("NEXUS_AUTH_AWS_REGION"),
        token_url=_url(env, "NEXUS_COGNITO_TOKEN_URL") if token_url else None,
        client_id=direct.get("NEXUS_COGNITO_CLIENT_ID"),
        client_secret=direct.get("NEXUS_COGNITO_CLIENT_SECRET"),
    )
