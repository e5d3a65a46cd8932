"""The checked-in deployment files hold together: every systemd unit and timer parses and runs
commands and flags the CLI really has (and `systemd-analyze verify` accepts them where it is
installed); the compose file names an app built from this project's Dockerfile beside a
PostgreSQL service (and `docker compose config` accepts it where compose is installed); the
Dockerfile copies files that exist. No image is built: base images cannot be pulled here."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from digest.cli.app import cli
from tests.conftest import ROOT, require

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
INSTALLED = "/opt/papers-digest/bin/digest"
UNITS = sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.timer"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def check_digest_command(line: str) -> None:
    """`line` runs the installed `digest` with a subcommand and options the CLI accepts."""
    argv = shlex.split(line)
    assert argv[0] == INSTALLED, line
    group = cli
    args = argv[1:]
    while isinstance(group, click.Group):
        name, args = args[0], args[1:]
        command = group.get_command(click.Context(group), name)
        assert command is not None, f"{line}: no command {name!r}"
        group = command
    group.make_context(group.name, list(args))  # raises on an unknown option or bad value


def test_there_is_a_service_and_a_timer_alternative() -> None:
    names = {path.name for path in UNITS}
    assert {"papers-digest.service", "papers-digest-tick.timer"} <= names


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_parses_and_runs_real_commands(path: Path) -> None:
    parsed = unit(path)
    assert parsed.has_section("Unit") and parsed["Unit"].get("Description")
    if path.suffix == ".timer":
        timer = parsed["Timer"]
        assert timer.get("OnCalendar")
        assert (SYSTEMD / timer["Unit"]).is_file()
        assert parsed["Install"]["WantedBy"] == "timers.target"
        return
    service = parsed["Service"]
    check_digest_command(service["ExecStart"])
    assert service["User"] == "papers-digest"
    assert service["Environment"] == "DIGEST_CONFIG=/etc/papers-digest/config.toml"
    # Secrets come from a root-owned file, optional so a first start can say what is missing.
    assert service["EnvironmentFile"] == "-/etc/papers-digest/secrets.env"


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is absent (apt-get install systemd)")
    assert analyze is not None
    # verify insists that each command exists: point the copies at this checkout's digest.
    here = str(Path(sys.executable).with_name("digest"))
    for path in UNITS:
        text = path.read_text(encoding="utf-8").replace(INSTALLED, here)
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "papers-digest" not in result.stderr, result.stderr


def test_compose_runs_the_app_beside_postgresql() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "app"}
    assert str(services["db"]["image"]).startswith("postgres:")
    app = services["app"]
    context = (DEPLOY / app["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / app["build"]["dockerfile"]).is_file()
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    url = app["environment"]["DIGEST_DATABASE__URL"]
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    assert app["ports"] == ["127.0.0.1:8000:8000"]
    assert "pgdata" in compose["volumes"]


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not has_compose:
        # Optional by design, even in CI: compose is not a Debian package here, and the parse
        # check above always runs.
        pytest.skip("docker compose is absent (the parse check above still ran)")
    assert docker is not None
    result = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_dockerfile_copies_what_exists_and_serves_on_all_interfaces() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    # One entry per instruction: continuation lines joined.
    joined = "\n".join(kept).replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.strip()]
    instructions = [line.split(None, 1)[0] for line in lines]
    assert lines[0].startswith("FROM python:3.1")
    for line in lines:
        if line.startswith("COPY "):
            *sources, _target = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), line
    assert "USER" in instructions and "EXPOSE" in instructions
    [cmd] = [line for line in lines if line.startswith("CMD [")]
    assert "digest serve --host 0.0.0.0" in cmd and "digest db upgrade" in cmd
