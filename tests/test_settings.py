"""Settings: TOML file, environment overrides, clear errors, and every key documented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from digest.errors import ConfigError
from digest.settings import Settings, load_settings
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def _documented_keys() -> set[tuple[str, str]]:
    """Keys set or commented out (`# key = …`) under each [section] of the example file."""
    keys: set[tuple[str, str]] = set()
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[\[?(\w+)\]\]?\s*$", line)
        if header:
            section = header.group(1)
            continue
        key = re.match(r"^#?\s?(\w+) = ", line)
        if key and section:
            keys.add((section, key.group(1)))
    return keys


def test_every_setting_is_documented_in_the_example() -> None:
    documented = _documented_keys()
    missing = []
    for section, field in Settings.model_fields.items():
        annotation = field.annotation
        model = (
            getattr(annotation, "__args__", (annotation,))[0]
            if section == "catalog"
            else annotation
        )
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key in model.model_fields:
            if (section, key) not in documented:
                missing.append(f"[{section}] {key}")
    assert not missing, f"undocumented in config.example.toml: {missing}"


def test_example_file_loads_and_matches_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    settings = load_settings(EXAMPLE)
    assert settings.smtp.port == Settings().smtp.port
    assert settings.database.url == "sqlite:///digest.db"
    assert tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_environment_overrides_one_nested_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[smtp]\nhost = "mail.example.org"\nport = 587\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_SMTP__PORT", "2525")
    monkeypatch.setenv("DIGEST_SMTP__PASSWORD", "hunter2")
    settings = load_settings(config)
    assert settings.smtp.host == "mail.example.org"
    assert settings.smtp.port == 2525
    assert settings.smtp.password is not None
    assert "hunter2" not in repr(settings.smtp)


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text("[digest]\nmax_papers = 7\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    assert load_settings().digest.max_papers == 7


@pytest.mark.parametrize("value", ['"new,old"', '["new", "old"]'])
def test_secret_keys_rotate_from_env(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", value.strip('"'))
    assert load_settings().secret_keys == ["new", "old"]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[smtp]\nport = 'abc'\n", "[smtp] port"),
        ("[smtp]\nsecurity = 'ssl'\n", "[smtp] security"),
        ("[smtp]\nbogus = 1\n", "unknown setting [smtp] bogus"),
        ("[nonsense]\nx = 1\n", "unknown setting nonsense"),
        ("[schedule]\ntimezone = 'Mars/Olympus'\n", "[schedule] timezone"),
        ("[schedule]\ningest_cron = 'every day'\n", "[schedule] ingest_cron"),
        ("[site]\nbase_url = 'example.org'\n", "[site] base_url"),
        ("[smtp\nport = 1\n", "invalid TOML"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_key(
    tmp_path: Path, toml: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config)
    message = str(excinfo.value)
    assert expected in message
    assert str(config) in message
    assert "\n" not in message


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
