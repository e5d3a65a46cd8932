"""`make demo`: the whole pipeline on the bundled sample, ending with mail in a local sink."""

from __future__ import annotations

import email
import email.policy
import mailbox
import subprocess
import sys
from pathlib import Path

from digest.profiles import load_profiles
from tests.conftest import ROOT


def test_demo_runs_the_pipeline_into_the_local_sink(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "digest", "demo", "--dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    readers = {p.email.casefold() for p in load_profiles(ROOT / "subscribers")}

    previews = sorted((folder / "previews").glob("*.eml"))
    assert len(previews) == len(readers)
    assert (folder / "previews" / "index.html").is_file()

    delivered = list(mailbox.Maildir(folder / "maildir", create=False))
    assert len(delivered) == len(readers)
    recipients = set()
    for stored in delivered:
        message = email.message_from_bytes(bytes(stored), policy=email.policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        recipients.add(message["To"].addresses[0].addr_spec.casefold())
    assert recipients == readers

    assert "sent" in result.stdout and "open" in result.stdout
    assert "http://127.0.0.1:8000/" in result.stdout  # where the sign-up page will be
