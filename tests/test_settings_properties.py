"""Property-based checks of the settings loader: whatever the file or the environment holds,
the result is Settings or one ConfigError line that says where the problem came from.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import ConfigError
from digest.settings import Section, Settings, load_settings
from tests.tomlwrite import document

SECTIONS: dict[str, list[str]] = {
    name: list(field.annotation.model_fields)  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
}
PROPERTIES = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=60),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
known_key = st.sampled_from(sorted(SECTIONS)).flatmap(
    lambda section: st.tuples(st.just(section), st.sampled_from(SECTIONS[section]))
)
any_key = st.one_of(
    known_key,
    st.tuples(st.sampled_from(sorted(SECTIONS)), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)),
    st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.sampled_from(["url", "port"])),
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("DIGEST_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _one_line(error: ConfigError) -> str:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def _load(path: Path) -> Settings | str:
    try:
        return load_settings(path)
    except ConfigError as exc:
        return _one_line(exc)


@PROPERTIES
@given(text=st.text(max_size=300))
def test_any_text_is_settings_or_one_line_naming_the_file(
    text: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = _load(path)
    if isinstance(result, str):
        assert result.startswith(f"{path}: ")


@PROPERTIES
@given(entries=st.lists(st.tuples(any_key, values), max_size=6))
def test_any_table_of_values_is_settings_or_one_line_naming_the_key(
    entries: list[tuple[tuple[str, str], Any]], tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    data: dict[str, dict[str, Any]] = {}
    for (section, key), value in entries:
        data.setdefault(section, {})[key] = value
    path = tmp_path / "config.toml"
    path.write_text(document(data), encoding="utf-8")
    assert tomllib.loads(path.read_text(encoding="utf-8")) == data  # the writer is faithful
    result = _load(path)
    if isinstance(result, str):
        assert result.startswith(f"{path}: ")
        named = [f"[{s}] {k}" for s, k in ((s, k) for s in data for k in data[s])]
        assert any(name in result for name in named) or any(
            f"unknown setting {s}" in result for s in data
        ), result


@PROPERTIES
@given(
    name=st.from_regex(r"DIGEST_[A-Z_]{1,12}__[A-Z_]{1,12}", fullmatch=True)
    | known_key.map(lambda key: f"DIGEST_{key[0].upper()}__{key[1].upper()}"),
    value=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        max_size=40,
    ),
)
def test_any_environment_variable_is_settings_or_one_line_naming_the_variable(
    name: str, value: str, clean_env: pytest.MonkeyPatch
) -> None:
    with clean_env.context() as env:
        env.setenv(name, value)
        try:
            load_settings(None)
        except ConfigError as exc:
            assert _one_line(exc).startswith(f"${name}: "), str(exc)


@PROPERTIES
@given(
    port=st.integers(min_value=1, max_value=65535),
    max_papers=st.integers(min_value=1, max_value=100),
    key=st.text(min_size=32, max_size=64).filter(lambda k: "," not in k and k.strip() == k),
)
def test_valid_values_load_as_written(
    port: int, max_papers: int, key: str, tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    data = {
        "smtp": {"port": port},
        "digest": {"max_papers": max_papers},
        "site": {"secret_key": [key]},
    }
    path.write_text(document(data), encoding="utf-8")
    loaded = load_settings(path)
    assert (loaded.smtp.port, loaded.digest.max_papers, loaded.secret_keys) == (
        port,
        max_papers,
        [key],
    )
