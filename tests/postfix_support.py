"""A private Postfix on loopback that makes real delivery status notifications.

Its own config, queue and data folders in a temp folder (the system instance is never touched
and need not run); it listens on 127.0.0.1 only, relays every reader's mail to a local test
server that answers as scripted (550, 452), and hands what comes back for the bounce domain to
`digest inbound`, exactly as the README's transport line does. Queue lifetimes of zero make a
4xx answer come back at once as Postfix's `Action: failed` / `Status: 4.x.x` report.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require

POSTFIX = Path("/usr/sbin/postfix")
DAEMONS = Path("/usr/lib/postfix/sbin")
SERVICES = """\
{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _main_cf(folder: Path, relay_port: int, bounce_domain: str, inbound_port: int) -> str:
    return f"""\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
meta_directory = {folder}/etc
command_directory = /usr/sbin
daemon_directory = {DAEMONS}
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mta.example.test
mydomain = example.test
mydestination =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{relay_port}
transport_maps = inline:{{ {bounce_domain}=smtp:[127.0.0.1]:{inbound_port} }}
smtp_dns_support_level = disabled
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
alias_maps =
alias_database =
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
smtp_connect_timeout = 5s
biff = no
"""


def available() -> bool:
    return POSTFIX.is_file() and DAEMONS.is_dir() and _has_user("postfix")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return os.geteuid() == 0


@contextmanager
def private_postfix(*, relay_port: int, bounce_domain: str, inbound_port: int) -> Iterator[int]:
    """Postfix running on a port of its own (yielded) until the block ends."""
    require(available(), "Postfix (/usr/sbin/postfix, run as root) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    etc = folder / "etc"
    port = _free_port()
    try:
        os.chmod(folder, 0o755)  # the daemons run as the postfix user
        for name in ("etc", "queue", "data"):
            (folder / name).mkdir()
        owner = pwd.getpwnam("postfix")
        os.chown(folder / "data", owner.pw_uid, owner.pw_gid)
        (etc / "main.cf").write_text(_main_cf(folder, relay_port, bounce_domain, inbound_port))
        (etc / "master.cf").write_text(SERVICES.format(port=port))
        for name in ("postfix-files", "dynamicmaps.cf"):
            if Path("/etc/postfix", name).exists():
                shutil.copy(Path("/etc/postfix", name), etc / name)
        started = subprocess.run(
            [str(POSTFIX), "-c", str(etc), "start"], capture_output=True, text=True, timeout=60
        )
        log = folder / "maillog"
        assert started.returncode == 0, log.read_text() if log.exists() else started.stderr
        _wait_for(port)
        yield port
    finally:
        subprocess.run([str(POSTFIX), "-c", str(etc), "stop"], capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"Postfix did not listen on 127.0.0.1:{port}")
