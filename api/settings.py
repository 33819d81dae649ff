"""The one settings class of the service (pydantic-settings).

Read once by the CLI and passed into ``create_app(settings)``; nothing reads the environment at import time.
Lower layers (auth, store) receive plain values from here, never this class.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schema.limits import RequestLimits
from store.db import async_url
from store.pii import PiiCipher

# Development defaults. A production deployment must replace every one of them: ``Settings`` refuses to
# validate with ``env=production`` while any of these is still in use.
DEMO_PII_KEY = "demo-pii-key-change-me-0123456789abcdef"
DEMO_CLIENT_SECRET_PREFIX = "demo-secret-"  # noqa: S105 (a prefix for demo clients, refused in production)


MIN_CSRF_KEY_LENGTH = 32
MIN_PII_KEY_LENGTH = 32
MIN_PII_KEY_BITS = 128
MIN_PII_KEY_BITS_PER_CHAR = 3.5  # a hex key has 4, base64 about 6


def pii_key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to derive the ID-number keys from, or None.

    The estimate is the key's length times its per-character Shannon entropy: a long key of few distinct
    characters ("aaaa…", "abab…") guesses as easily as a short one.
    """
    if len(key) < MIN_PII_KEY_LENGTH:
        return f"{len(key)} characters, at least {MIN_PII_KEY_LENGTH} needed"
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if per_char < MIN_PII_KEY_BITS_PER_CHAR or per_char * len(key) < MIN_PII_KEY_BITS:
        return "too few distinct characters (use e.g. `openssl rand -base64 48`)"
    return None


class ProductionSettingsError(ValueError):
    """Raised when a production configuration still carries a demo client or a demo secret."""


class Settings(BaseSettings):
    # No input in a validation error: it would carry the URLs' passwords and the keys.
    model_config = SettingsConfigDict(
        env_prefix="HRSS_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    env: Literal["dev", "production"] = "dev"
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "HRSS_DATABASE_URL"),
        description="PostgreSQL 14+ URL; unset: an embedded PostgreSQL under data_dir is started by the app.",
    )
    data_dir: Path = Field(default=Path(".data"), description="Embedded database, signing keys.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "HRSS_PORT"))
    public_url: str | None = Field(
        default=None, description="Base URL clients use to reach the service; default http://host:port."
    )
    token_audience: str = "hrss-credit"  # noqa: S105 (the resource name, not a secret)
    token_ttl_seconds: int = 3600
    demo_clients: bool = Field(default=True, description="Register the demo OAuth clients of policy.md.")
    pii_key: SecretStr = SecretStr(DEMO_PII_KEY)
    pii_previous_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys being rotated out (JSON list): still decrypt and look up until `hrss-credit pii rotate` ran.",
    )
    external_issuer: str | None = Field(
        default=None,
        description="An external OAuth 2 / OpenID issuer whose access tokens are accepted too (metadata discovered).",
    )
    external_algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")
    read_database_urls: list[str] = Field(
        default_factory=list,
        description="Hot standbys of DATABASE_URL (JSON list of PostgreSQL URLs): what only reads goes to one of them "
        "while its lag is within replica_max_lag_seconds (store/replicas.py); writes, and every read of a request "
        "that writes, go to the primary.",
    )
    replica_max_lag_seconds: float = Field(
        default=5.0,
        gt=0,
        description="A replica further behind the primary than this is skipped until it catches up: the staleness a "
        "read may have.",
    )
    replica_check_seconds: float = Field(
        default=1.0, gt=0, description="How often each replica's lag is measured (and a dropped one retried)."
    )
    pool_size: int = 20
    max_overflow: int = 10
    statement_timeout_ms: int = 5000
    compiled_reads: bool = Field(
        default=True,
        description="Answer the single restriction check by one prepared statement (schema/compiled.py); false: "
        "every request takes the resolvers.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    recompute_drain_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often an API process drains the recompute queue of bulk imports (store.pending), besides "
        "when an import notifies it; 0: this process never drains (readers still settle what they read).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body (or GET query string) /graphql reads; 413 beyond."
    )
    max_tokens: int = Field(default=2000, gt=0, description="Most tokens a GraphQL document may have.")
    max_depth: int = Field(default=10, gt=0, description="Deepest selection an operation may nest.")
    max_aliases: int = Field(default=15, ge=0, description="Most aliases a document may use.")
    max_cost: int = Field(
        default=5000, gt=0, description="Largest operation cost: 1 a field, times the page of a list, 1 a screen ref."
    )
    max_validation_errors: int = Field(default=5, gt=0, description="Validation stops after this many errors.")
    graphql_get: bool | None = Field(
        default=None,
        description="Accept queries over GET (never mutations); default: in dev only, since a production "
        "client POSTs and a GET query is one a browser can be made to send.",
    )
    cors_origins: list[str] | None = Field(
        default=None,
        description="Browser origins allowed to call the API (JSON list); default: in dev the origins of the demo "
        "clients' redirect URIs, in production none. Never '*': requests carry credentials.",
    )
    trusted_documents: bool = Field(
        default=False,
        description="Run only the operations registered for the caller's audience (`hrss-credit documents add`), "
        "sent in full or by hash; any other is refused with UNTRUSTED_DOCUMENT. For production, once every "
        "frontend's operations are registered.",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="The built-in issuer's token signing key, a private EC P-256 JWK (JSON), the same for every API "
        "process; unset: HRSS_SIGNING_KEY_FILE, else the key the first process stored in the database.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="A file holding that private JWK (e.g. a mounted secret), instead of HRSS_SIGNING_KEY.",
    )
    login_csrf_key: SecretStr | None = Field(
        default=None,
        description="The key that signs the employer login form's CSRF tokens (at least 32 characters), the same for "
        "every API process; unset: the key the first process stored in the database.",
    )
    seed_demo_on_start: bool = Field(
        default=False, description="Load the demo data into an empty database at start-up (`make run`)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a scraper sends to GET /metrics; unset: /metrics answers only loopback clients.",
    )
    metrics_operations: list[str] = Field(
        default_factory=list,
        description="Operation names (JSON list) that get their own label in /metrics; every other name but those "
        "of compiled reads is counted as 'other'.",
    )
    tracing: bool | None = Field(
        default=None,
        description="OpenTelemetry tracing of requests down to their SQL; default: on when OTEL_EXPORTER_OTLP_ENDPOINT "
        "(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and OTEL_SDK_DISABLED is not true.",
    )

    @property
    def issuer(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def pii_cipher(self) -> PiiCipher:
        return PiiCipher(self.pii_key.get_secret_value(), [k.get_secret_value() for k in self.pii_previous_keys])

    @property
    def accepts_get_queries(self) -> bool:
        return self.dev_mode if self.graphql_get is None else self.graphql_get

    def request_limits(self) -> RequestLimits:
        return RequestLimits(
            max_tokens=self.max_tokens,
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_cost=self.max_cost,
        )

    @property
    def dev_mode(self) -> bool:
        return self.env == "dev"

    @model_validator(mode="after")
    def _refuse_a_wildcard_origin(self) -> Settings:
        if self.cors_origins and "*" in self.cors_origins:
            raise ValueError("HRSS_CORS_ORIGINS may not hold '*': list each origin that may send credentials")
        return self

    @model_validator(mode="after")
    def _one_signing_key_source(self) -> Settings:
        if self.signing_key is not None and self.signing_key_file is not None:
            raise ValueError("set HRSS_SIGNING_KEY or HRSS_SIGNING_KEY_FILE, not both")
        if self.login_csrf_key is not None and len(self.login_csrf_key.get_secret_value()) < MIN_CSRF_KEY_LENGTH:
            raise ValueError(f"HRSS_LOGIN_CSRF_KEY needs at least {MIN_CSRF_KEY_LENGTH} characters")
        return self

    @model_validator(mode="after")
    def _replicas_are_postgresql(self) -> Settings:
        for n, url in enumerate(self.read_database_urls):
            try:
                async_url(url)
            except Exception as exc:
                raise ValueError(f"HRSS_READ_DATABASE_URLS[{n}]: not a PostgreSQL URL") from exc
        if self.read_database_urls and self.replica_check_seconds > self.replica_max_lag_seconds:
            raise ValueError("HRSS_REPLICA_CHECK_SECONDS must not exceed HRSS_REPLICA_MAX_LAG_SECONDS")
        return self

    @model_validator(mode="after")
    def _refuse_demo_secrets_in_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.demo_clients:
            problems.append("HRSS_DEMO_CLIENTS must be false (demo OAuth clients and their secrets)")
        if self.pii_key.get_secret_value() == DEMO_PII_KEY:
            problems.append("HRSS_PII_KEY is the demo key")
        elif weakness := pii_key_weakness(self.pii_key.get_secret_value()):
            problems.append(f"HRSS_PII_KEY is weak: {weakness}")
        if self.seed_demo_on_start:
            problems.append("HRSS_SEED_DEMO_ON_START must be false")
        if self.database_url is None:
            problems.append("DATABASE_URL must name the production PostgreSQL")
        if problems:
            raise ProductionSettingsError("refusing to start in production: " + "; ".join(problems))
        return self

    auth_failure_window_seconds: int = Field(
        default=300,
        gt=0,
        description="Window in which failed client secrets and employer passwords are counted (built-in server).",
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        description="Failures per client id or user name in a window; reaching it blocks the key until the window ends.",
    )
    auth_failure_address_limit: int = Field(
        default=50, ge=1, description="Failures per client address in a window; reaching it blocks the address."
    )
