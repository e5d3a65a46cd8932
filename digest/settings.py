"""Settings: `config.toml` plus `DIGEST_<SECTION>__<KEY>` environment overrides.

Precedence (highest first): environment, TOML file, built-in default. The file is found from the
`--config` option, else `$DIGEST_CONFIG`, else `./config.toml` when it exists. Every key is
documented in `config.example.toml`; a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from digest.errors import ConfigError

CONFIG_ENV = "DIGEST_CONFIG"
DEFAULT_CONFIG = Path("config.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite:///digest.db"


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(1025, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["none", "starttls", "tls"] = "none"
    timeout: float = Field(30.0, gt=0)
    concurrency: int = Field(4, ge=1, le=64)
    rate_per_second: float = Field(0.0, ge=0)
    max_attempts: int = Field(4, ge=1, le=20)
    local_hostname: str = "localhost"
    # First retry waits about this long (seconds), doubling per attempt, with jitter.
    retry_backoff: float = Field(1.0, ge=0)
    # A `queued` ledger row not renewed for this long belongs to a dead sender: re-claimed.
    claim_lease_seconds: float = Field(120.0, gt=0)


class SenderSettings(Section):
    from_address: str = "digest@example.org"
    from_name: str = "Papers Digest"
    reply_to: str | None = None
    list_id: str = "papers-digest.example.org"
    postal_address: str = "Papers Digest, 1 Example Street, 00000 Example City"
    unsubscribe_mailto: str | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: SecretStr | None = None


def _split_keys(value: Any) -> Any:
    """Accept one key, a TOML list, a JSON list or a comma-separated env value."""
    if isinstance(value, SecretStr):
        return [value]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ValueError("expected a JSON list of strings") from exc
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class SiteSettings(Section):
    base_url: str = "http://127.0.0.1:8000"
    # Newest key first; older keys still verify links already sent, so keys can rotate.
    secret_key: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    lang: str = "en"

    _split = field_validator("secret_key", mode="before")(_split_keys)

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an absolute http(s) URL such as https://digest.example.org")
        return value.rstrip("/")


class DigestSettings(Section):
    list_name: str = "Papers Digest"
    max_papers: int = Field(10, ge=1, le=100)
    min_upvotes: int = Field(0, ge=0)
    trending_count: int = Field(3, ge=0, le=20)
    send_empty: bool = False
    subject: str = "{list_name} · {date}: {top_title}"


class ScheduleSettings(Section):
    ingest_cron: str = "0 6 * * *"
    timezone: str = "UTC"
    catch_up_hours: float = Field(6.0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name") from exc
        return value

    @field_validator("ingest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("expected a 5-field cron expression such as '0 6 * * *'")
        return value


class IngestSettings(Section):
    sources: list[str] = Field(default_factory=list)
    timeout: float = Field(20.0, gt=0)


class RenderSettings(Section):
    templates_dir: Path | None = None


class MatchSettings(Section):
    """How plain-word queries are understood: the operator's own alias groups, added to the
    research vocabulary shipped with the package (`digest/match/aliases.txt`)."""

    aliases_file: Path | None = None


class WebSettings(Section):
    rate_limit_per_minute: int = Field(10, ge=1)
    confirmation_window_minutes: int = Field(10, ge=0)
    max_body_bytes: int = Field(65536, ge=1024)


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class BouncesSettings(Section):
    # VERP is on when set: each digest's envelope sender becomes bounces+<signed>@domain.
    domain: str | None = None
    # Mailman's bounce score: a day with soft bounces adds this much…
    soft_score_per_day: float = Field(1.0, gt=0)
    # …the reader is suppressed once the score reaches this…
    soft_threshold: float = Field(5.0, gt=0)
    # …and the score starts again from zero after this many days without a bounce.
    soft_reset_days: int = Field(7, ge=1)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = value.strip().lower()
        if not _DOMAIN.match(domain):
            raise ValueError("expected a mail domain such as bounces.example.org")
        return domain


class InboundSettings(Section):
    # Address that takes commands by mail (subscribe, unsubscribe, topics, add, remove, help).
    command_address: str | None = None
    # Largest message `digest inbound` accepts, in bytes (a bounce quotes the digest).
    max_message_bytes: int = Field(1_048_576, ge=65536)
    # At most this many replies to one address per reply window.
    replies_per_address: int = Field(5, ge=1)
    reply_window_minutes: int = Field(1440, ge=1)


class CatalogEntry(Section):
    name: str
    query: str


DEFAULT_CATALOG = [
    CatalogEntry(name="Large language models", query='"language model" OR llm*'),
    CatalogEntry(name="Reasoning", query="reasoning OR chain-of-thought"),
    CatalogEntry(name="Agents", query="agent* OR tool-use"),
    CatalogEntry(name="Diffusion & image generation", query='diffusion OR "image generation"'),
    CatalogEntry(
        name="Efficient inference", query='quantization OR "kv cache" OR "speculative decoding"'
    ),
    CatalogEntry(name="Multimodal", query='multimodal OR vision-language OR "video understanding"'),
    CatalogEntry(name="Reinforcement learning", query='"reinforcement learning" OR rlhf OR grpo'),
    CatalogEntry(name="Robotics", query="robot* OR embodied"),
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIGEST_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    smtp: SmtpSettings = SmtpSettings()
    sender: SenderSettings = SenderSettings()
    site: SiteSettings = SiteSettings()
    digest: DigestSettings = DigestSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    ingest: IngestSettings = IngestSettings()
    render: RenderSettings = RenderSettings()
    match: MatchSettings = MatchSettings()
    web: WebSettings = WebSettings()
    bounces: BouncesSettings = BouncesSettings()
    inbound: InboundSettings = InboundSettings()
    catalog: list[CatalogEntry] = Field(default_factory=lambda: list(DEFAULT_CATALOG))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _ACTIVE_TOML.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def secret_keys(self) -> list[str]:
        return [key.get_secret_value() for key in self.site.secret_key]


# The TOML path is chosen per load; pydantic-settings asks for sources at class level.
_ACTIVE_TOML: dict[str, Path | None] = {"path": None}


def resolve_config_path(explicit: str | Path | None) -> Path | None:
    """The file to read, or None for built-in defaults. An explicit path must exist."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found (from ${CONFIG_ENV})")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings, turning every validation problem into one line naming the key."""
    path = resolve_config_path(config)
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    _ACTIVE_TOML["path"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    finally:
        _ACTIVE_TOML["path"] = None


def _describe(exc: ValidationError, path: Path | None) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    where = str(path) if path is not None else "settings"
    if len(loc) >= 2 and not loc[1].isdigit():
        key = f"[{loc[0]}] {'.'.join(loc[1:])}"
        env = "DIGEST_" + "__".join(loc).upper()
    else:
        key = ".".join(loc) or "(root)"
        env = "DIGEST_" + "__".join(loc).upper()
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown setting {key} (or ${env}); see config.example.toml"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {key} (or ${env}): {message}"
