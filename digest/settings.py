"""Settings: `config.toml` plus `DIGEST_<SECTION>__<KEY>` environment overrides.

Precedence (highest first): environment, TOML file, built-in default. The file is found from the
`--config` option, else `$DIGEST_CONFIG`, else `./config.toml` when it exists. Every key is
documented in `config.example.toml`; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from digest.errors import ConfigError, QueryError, map_value_errors
from digest.settings_sections import (
    AdminSettings,
    AlertsSettings,
    BouncesSettings,
    InboundSettings,
    Section,
)
from digest.zones import parse_zone

CONFIG_ENV = "DIGEST_CONFIG"
ENV_PREFIX = "DIGEST_"
# A signing key shorter than this can be guessed offline from one signed link.
MIN_SECRET_LENGTH = 32
DEFAULT_CONFIG = Path("config.toml")


class DatabaseSettings(Section):
    url: str = "sqlite:///digest.db"
    # Seconds a command waits for another process's write lock before it gives up unchanged.
    busy_timeout: float = Field(15.0, gt=0, le=3600)


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


def _one_line(value: str | None) -> str | None:
    """A value that ends up in a header must not hold a line break or another control character:
    refused here, so the error names this key rather than the address beside it."""
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters (CR, LF, NUL, …) are not allowed; expected one line")
    return value


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

    _lines = field_validator("from_name")(_one_line)


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
        if value and not stripped:
            return [value]  # whitespace only is a (weak) key, refused below, not "unset"
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class SiteSettings(Section):
    base_url: str = "http://127.0.0.1:8000"
    # Newest key first; older keys still verify links already sent, so keys can rotate.
    secret_key: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    lang: str = "en"

    _split = field_validator("secret_key", mode="before")(_split_keys)

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for index, key in enumerate(keys, start=1):
            length = len(key.get_secret_value().strip())
            if length < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"key {index} has {length} characters; each key needs at least "
                    f"{MIN_SECRET_LENGTH}. Generate one with: "
                    'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
                )
        return keys

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
    subject: str = "{top_title}{more}"


class ScheduleSettings(Section):
    ingest_cron: str = "0 6 * * *"
    timezone: str = "UTC"
    catch_up_hours: float = Field(6.0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_zone(value)
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
    # Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For / -Proto are
    # believed. Empty: nobody's, not even loopback's (any local client could set them).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            # pydantic wants a ValueError back; it names the key and the file (`_describe`).
            with map_value_errors(
                value=item,
                expected="an IP address or network such as 127.0.0.1 or 10.0.0.0/8",
                error=ValueError,
            ):
                ipaddress.ip_network(item, strict=False)
        return value


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
    admin: AdminSettings = AdminSettings()
    alerts: AlertsSettings = AlertsSettings()
    catalog: list[CatalogEntry] = Field(default_factory=lambda: list(DEFAULT_CATALOG))

    @field_validator("catalog")
    @classmethod
    def _catalog_queries(cls, entries: list[CatalogEntry]) -> list[CatalogEntry]:
        """An operator's catalogue topic must parse, or every sign-up offering it fails."""
        from digest.match.query import compile_query  # loaded only for a catalogue of one's own

        for entry in entries:
            try:
                compile_query(entry.query)
            except QueryError as exc:
                raise ValueError(f"topic {entry.name!r}: query: {exc}") from None
        return entries

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
            # Bytes, not read_text: universal newlines would turn a lone CR (invalid TOML) into
            # LF here while pydantic-settings reads the raw bytes and fails on it.
            tomllib.loads(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    environment = _setting_variables()
    _check_sections(environment)
    _ACTIVE_TOML["path"] = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, environment)) from None
    except SettingsError as exc:
        raise ConfigError(_undecodable(exc, environment)) from None
    finally:
        _ACTIVE_TOML["path"] = None


def _setting_variables() -> dict[str, str]:
    """`DIGEST_<SECTION>__<KEY>` variables, upper-cased name → the name as set. `DIGEST_CONFIG`
    and other single-word `DIGEST_*` variables are not settings and are left alone."""
    return {
        name.upper(): name
        for name in os.environ
        if name.upper().startswith(ENV_PREFIX) and "__" in name[len(ENV_PREFIX) :]
    }


def _check_sections(environment: dict[str, str]) -> None:
    """pydantic-settings silently drops a variable whose section does not exist, while an
    unknown key in a known section is caught: make both errors, naming the variable."""
    sections = {name.upper() for name in Settings.model_fields}
    for upper, name in sorted(environment.items()):
        section = upper[len(ENV_PREFIX) :].split("__", 1)[0]
        if section not in sections:
            raise ConfigError(
                f"${name}: unknown settings section [{section.lower()}]; expected "
                f"DIGEST_<SECTION>__<KEY> with a section of config.example.toml"
            )


def _undecodable(exc: SettingsError, environment: dict[str, str]) -> str:
    """pydantic-settings reads a list or table from the environment as JSON and raises its own
    error, naming only the section, when that fails: name the variable instead."""
    found = re.search(r'field "(\w+)"', str(exc))
    section = found.group(1).upper() if found else ""
    names = [
        name
        for upper, name in sorted(environment.items())
        if upper.startswith(f"{ENV_PREFIX}{section}__")
    ] or [f"{ENV_PREFIX}{section}"]
    key = names[0][len(ENV_PREFIX) :].lower().replace("__", "] ", 1)
    where = f"[{key}: " if "]" in key else ""
    return f'${names[0]}: {where}expected a JSON value here, such as ["a", "b"] for a list'


def _describe(exc: ValidationError, path: Path | None, environment: dict[str, str]) -> str:
    """One line naming the key, and where its value came from: the variable when the
    environment set it (it overrides the file), else the file."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if len(loc) >= 2 and not loc[1].isdigit():
        key = f"[{loc[0]}] {'.'.join(loc[1:])}"
    else:
        key = ".".join(loc) or "(root)"
    env = ENV_PREFIX + "__".join(loc[:2]).upper()
    from_env = environment.get(env) or environment.get(ENV_PREFIX + loc[0].upper() if loc else "")
    message = error["msg"].removeprefix("Value error, ")
    if from_env is not None:
        if error["type"] == "extra_forbidden":
            return f"${from_env}: unknown setting {key}; see config.example.toml"
        return f"${from_env}: {key}: {message}"
    where = str(path) if path is not None else "settings"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown setting {key} (or ${env}); see config.example.toml"
    return f"{where}: {key} (or ${env}): {message}"
