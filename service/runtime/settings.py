"""Configuration, read from the environment once, in `Settings.from_env`, and passed down from there."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import limits
import platformdirs

from service.access.jwt import JwtSettings


class SettingsError(Exception):
    """A setting is present but unusable; the message names the variable and the problem."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment."""

    # The owner's connection: migrations run with it. None means "start the embedded PostgreSQL".
    database_url: str | None = None
    # The application role's own login, if the operator gives one; otherwise the service connects with
    # `database_url` and assumes the SELECT/INSERT-only role for every pooled connection.
    app_database_url: str | None = None
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    log_format: Literal["json", "console"] = "console"
    log_level: str = "info"
    pool_min_size: int = 2
    pool_max_size: int = 10
    # The checkpoint signer's key: a path to a key file, or the key text itself. Never stored in the database.
    signing_key: str | None = None
    # How often `serve` signs a checkpoint when the log has grown, in seconds.
    checkpoint_interval: int = 60
    # Whether callers without a credential are served (as the anonymous role: public figures only).
    anonymous: bool = True
    # Bearer JWTs from a single sign-on; None: only the service's own tokens are taken.
    jwt: JwtSettings | None = None
    # Requests per credential, and per client address for anonymous callers, as `limits` writes them
    # ("600/minute"); None: no limit.
    rate_limit: str | None = "1200/minute"
    anonymous_rate_limit: str | None = "600/minute"
    # Browser origins allowed to call the API from another origin (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Whether anonymous callers may introspect the schema and open GraphiQL.
    anonymous_introspection: bool = True
    # Whether the API keeps finished responses of queries answered from the projections (schema/cache.py).
    response_cache: bool = True
    # Live events or status changes a subscriber may have waiting before the server closes its socket
    # (4429, naming the last cursor it delivered); the subscriber resumes from its own last cursor.
    subscriber_queue: int = 1000
    # How often a WebSocket connection's credential is checked again (expiry, revocation), in seconds.
    credential_recheck: float = 5.0
    # Webhooks: endpoints on loopback or private addresses (refused unless on), the first retry's delay in
    # seconds (doubling, with jitter), and the failed attempts after which an event is dead-lettered.
    webhook_allow_private: bool = False
    webhook_retry_base: float = 5.0
    webhook_max_attempts: int = 10

    @classmethod
    def from_process(cls) -> Settings:
        """The settings of this process's environment: the one place `os.environ` is read."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        database_url = _url(environ, "DATABASE_URL")
        app_database_url = _url(environ, "QINGLIAN_APP_DATABASE_URL")
        data_dir = environ.get("QINGLIAN_DATA_DIR") or platformdirs.user_data_dir("qinglian")
        log_format = environ.get("QINGLIAN_LOG_FORMAT", "console")
        if log_format not in ("json", "console"):
            raise SettingsError(f"QINGLIAN_LOG_FORMAT must be json or console, not {log_format!r}")
        log_level = environ.get("QINGLIAN_LOG_LEVEL", "info").lower()
        if log_level not in ("debug", "info", "warning", "error"):
            raise SettingsError(
                f"QINGLIAN_LOG_LEVEL must be debug, info, warning or error, not {log_level!r}"
            )
        pool_min = _int(environ, "QINGLIAN_POOL_MIN_SIZE", 2, low=1, high=100)
        pool_max = _int(environ, "QINGLIAN_POOL_MAX_SIZE", 10, low=1, high=1000)
        if pool_min > pool_max:
            raise SettingsError("QINGLIAN_POOL_MIN_SIZE must not exceed QINGLIAN_POOL_MAX_SIZE")
        if "QINGLIAN_ROLE_HEADER" in environ:
            raise SettingsError(
                "QINGLIAN_ROLE_HEADER is gone: no header grants a role; issue a token (qinglian token create)"
            )
        anonymous = _switch(environ, "QINGLIAN_ANONYMOUS", "on")
        anonymous_introspection = _switch(environ, "QINGLIAN_ANONYMOUS_INTROSPECTION", "on")
        cors = tuple(o.strip() for o in environ.get("QINGLIAN_CORS_ORIGINS", "").split(",") if o.strip())
        for origin in cors:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
                raise SettingsError(
                    f"QINGLIAN_CORS_ORIGINS: {origin!r} is not an origin like https://example.org"
                )
        response_cache = _switch(environ, "QINGLIAN_RESPONSE_CACHE", "on")
        signing_key = environ.get("QINGLIAN_SIGNING_KEY", "").strip() or None
        checkpoint_interval = _int(environ, "QINGLIAN_CHECKPOINT_INTERVAL", 60, low=1, high=86400)
        subscriber_queue = _int(environ, "QINGLIAN_SUBSCRIBER_QUEUE", 1000, low=1, high=1_000_000)
        recheck = _int(environ, "QINGLIAN_CREDENTIAL_RECHECK", 5, low=1, high=3600)
        webhook_allow_private = _switch(environ, "QINGLIAN_WEBHOOK_ALLOW_PRIVATE", "off")
        webhook_retry_base = _int(environ, "QINGLIAN_WEBHOOK_RETRY_BASE", 5, low=1, high=3600)
        webhook_max_attempts = _int(environ, "QINGLIAN_WEBHOOK_MAX_ATTEMPTS", 10, low=1, high=100)
        return cls(
            database_url=database_url,
            app_database_url=app_database_url,
            data_dir=Path(data_dir).expanduser(),
            host=environ.get("QINGLIAN_HOST", "127.0.0.1"),
            port=_int(environ, "QINGLIAN_PORT", 8000, low=0, high=65535),
            log_format="json" if log_format == "json" else "console",
            log_level=log_level,
            pool_min_size=pool_min,
            pool_max_size=pool_max,
            signing_key=signing_key,
            checkpoint_interval=checkpoint_interval,
            anonymous=anonymous,
            rate_limit=_rate(environ, "QINGLIAN_RATE_LIMIT", "1200/minute"),
            anonymous_rate_limit=_rate(environ, "QINGLIAN_ANONYMOUS_RATE_LIMIT", "600/minute"),
            cors_origins=cors,
            anonymous_introspection=anonymous_introspection,
            jwt=_jwt(environ),
            response_cache=response_cache,
            subscriber_queue=subscriber_queue,
            credential_recheck=float(recheck),
            webhook_allow_private=webhook_allow_private,
            webhook_retry_base=float(webhook_retry_base),
            webhook_max_attempts=webhook_max_attempts,
        )


def check_database_url(name: str, value: str) -> str:
    """Return `value` if it is a postgresql:// URL, else raise SettingsError naming `name`."""
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise SettingsError(f"{name} is not a URL: {exc}") from exc
    if parts.scheme not in ("postgres", "postgresql"):
        raise SettingsError(f"{name} is not a PostgreSQL URL (expected postgresql://user@host:port/database)")
    try:
        parts.port  # noqa: B018 - touching .port is what validates it
    except ValueError as exc:
        raise SettingsError(f"{name} has a bad port: {exc}") from exc
    return value


def _switch(environ: Mapping[str, str], name: str, default: str) -> bool:
    value = environ.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise SettingsError(f"{name} must be on or off, not {value!r}")
    return value == "on"


def _rate(environ: Mapping[str, str], name: str, default: str) -> str | None:
    """A rate such as 600/minute or 20/second; "off" for none."""
    value = environ.get(name, default).strip().lower()
    if value == "off":
        return None
    try:
        limits.parse(value)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a rate such as 600/minute, or off, not {value!r}") from exc
    return value


def _jwt(environ: Mapping[str, str]) -> JwtSettings | None:
    """JWT settings, when QINGLIAN_JWT_ISSUER is set; each missing or conflicting part named."""
    issuer = environ.get("QINGLIAN_JWT_ISSUER", "").strip()
    if not issuer:
        return None
    audience = environ.get("QINGLIAN_JWT_AUDIENCE", "").strip()
    if not audience:
        raise SettingsError("QINGLIAN_JWT_AUDIENCE must be set when QINGLIAN_JWT_ISSUER is")
    key = environ.get("QINGLIAN_JWT_PUBLIC_KEY", "").strip() or None
    jwks = environ.get("QINGLIAN_JWT_JWKS_URL", "").strip() or None
    if (key is None) == (jwks is None):
        raise SettingsError(
            "set one of QINGLIAN_JWT_PUBLIC_KEY (PEM text or a file) and QINGLIAN_JWT_JWKS_URL"
        )
    if key is not None and not key.startswith("-----BEGIN"):
        try:
            key = Path(key).expanduser().read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"QINGLIAN_JWT_PUBLIC_KEY: cannot read the key file: {exc}") from exc
    if jwks is not None and urlsplit(jwks).scheme not in ("https", "http"):
        raise SettingsError("QINGLIAN_JWT_JWKS_URL must be an http(s) URL")
    return JwtSettings(
        issuer=issuer,
        audience=audience,
        public_key=key,
        jwks_url=jwks,
        role_claim=environ.get("QINGLIAN_JWT_ROLE_CLAIM", "qinglian_role").strip() or "qinglian_role",
        scope_claim=environ.get("QINGLIAN_JWT_SCOPE_CLAIM", "qinglian_scope").strip() or "qinglian_scope",
        leeway_seconds=_int(environ, "QINGLIAN_JWT_LEEWAY", 30, low=0, high=600),
    )


def _url(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return check_database_url(name, value) if value else None


def _int(environ: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
    return value
