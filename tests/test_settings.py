"""Settings: TOML file, environment overrides, clear errors, and every key documented."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
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


NEW_KEY = "new-key-0123456789-0123456789-0123456789"
OLD_KEY = "old-key-0123456789-0123456789-0123456789"


@pytest.mark.parametrize("value", [f"{NEW_KEY},{OLD_KEY}", f'["{NEW_KEY}", "{OLD_KEY}"]'])
def test_secret_keys_rotate_from_env(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", value)
    assert load_settings().secret_keys == [NEW_KEY, OLD_KEY]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[smtp]\nport = 'abc'\n", "[smtp] port"),
        ("[smtp]\nsecurity = 'ssl'\n", "[smtp] security"),
        ("[smtp]\nbogus = 1\n", "unknown setting [smtp] bogus"),
        ("[nonsense]\nx = 1\n", "unknown setting nonsense"),
        ("[schedule]\ntimezone = 'Mars/Olympus'\n", "[schedule] timezone"),
        ("[schedule]\ntimezone = 'Factory'\n", "[schedule] timezone"),
        ("[schedule]\ntimezone = 'localtime'\n", "[schedule] timezone"),
        ("[schedule]\ntimezone = 'posix/Europe/Paris'\n", "[schedule] timezone"),
        ("[site]\nsecret_key = 'a'\n", "[site] secret_key"),
        ("[site]\nsecret_key = ['                                        ']\n", "secret_key"),
        ('[sender]\nfrom_name = "Digest\\r\\nBcc: x@example.org"\n', "[sender] from_name"),
        ("[database]\nbusy_timeout = 0\n", "[database] busy_timeout"),
        ("[schedule]\ningest_cron = 'every day'\n", "[schedule] ingest_cron"),
        ("[site]\nbase_url = 'example.org'\n", "[site] base_url"),
        (
            "[web]\ntrusted_proxies = ['10.0.0.0/33']\n",
            "[web] trusted_proxies (or $DIGEST_WEB__TRUSTED_PROXIES): expected an IP address or "
            "network such as 127.0.0.1 or 10.0.0.0/8, got '10.0.0.0/33'",
        ),
        ("[smtp\nport = 1\n", "invalid TOML"),
        (
            "[[catalog]]\nname = 'Agents'\nquery = '(agent'\n",
            "catalog (or $DIGEST_CATALOG): topic 'Agents': query: column 1: unclosed \"(\"",
        ),
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


def test_a_short_signing_key_says_how_to_make_a_good_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "a")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value) == (
        "$DIGEST_SITE__SECRET_KEY: [site] secret_key: key 1 has 1 characters; each key needs "
        "at least 32. Generate one with: "
        'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
    )


@pytest.mark.parametrize("value", ["   ", "\t"])
def test_a_whitespace_only_key_is_refused(value: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[site]\nsecret_key = {json.dumps(value)}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[site\] secret_key .*key 1 has 0 characters"):
        load_settings(config)


def test_a_key_of_32_characters_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SITE__SECRET_KEY", "k" * 32)
    assert load_settings().secret_keys == ["k" * 32]


def test_an_unknown_section_in_the_environment_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGEST_FOO__BAR", "1")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value).startswith("$DIGEST_FOO__BAR: unknown settings section [foo]")


def test_variables_that_are_not_settings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_REQUIRE_SERVICES", "0")
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert load_settings().smtp.port == 1025


def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[smtp]\nport = 2525\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_SMTP__PORT", "abc")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config)
    message = str(excinfo.value)
    assert message.startswith("$DIGEST_SMTP__PORT: [smtp] port: ")
    assert str(config) not in message


def test_a_line_break_in_from_name_is_reported_as_from_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGEST_SENDER__FROM_NAME", "Digest\r\nBcc: victim@example.org")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value).startswith("$DIGEST_SENDER__FROM_NAME: [sender] from_name: ")
    assert "from_address" not in str(excinfo.value)


def test_a_database_url_at_a_file_that_is_not_a_database_is_one_line(
    digest: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a database, just notes\n" * 20, encoding="utf-8")
    monkeypatch.setenv("DIGEST_DATABASE__URL", f"sqlite:///{other}")
    code, out, err = digest("papers")
    assert (code, out) == (2, "")
    assert err == (f"error: [database] url: 'sqlite:///{other}' is not an SQLite database file\n")


def test_a_list_from_the_environment_that_is_not_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by tests/test_settings_properties.py: pydantic-settings' own error named no variable.
    monkeypatch.setenv("DIGEST_INGEST__SOURCES", "00")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value) == (
        '$DIGEST_INGEST__SOURCES: [ingest] sources: expected a JSON value here, such as ["a", "b"] '
        "for a list"
    )


def test_a_lone_carriage_return_is_invalid_toml_in_one_line(tmp_path: Path) -> None:
    # Found by tests/test_settings_properties.py: the check read the file with universal
    # newlines and passed it, then pydantic-settings' own read failed with a traceback.
    config = tmp_path / "config.toml"
    config.write_bytes(b"\r")
    with pytest.raises(ConfigError, match=r"config\.toml: invalid TOML: "):
        load_settings(config)
