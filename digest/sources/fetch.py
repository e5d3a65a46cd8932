"""Reading a source from an http(s) URL with httpx.

Every network failure becomes one SourceError line naming the URL (offline, DNS, timeout, HTTP
status, oversized body). The transport is injectable so tests run against
`httpx.MockTransport` and never touch the network.

`timeout` is a deadline for the whole fetch (connect, headers and every byte of the body), not
per read: httpx's timeout bounds each read, so a server trickling one byte a second would keep
a per-read limit satisfied forever.
"""

from __future__ import annotations

import threading

import httpx

from digest import __version__
from digest.errors import SourceError

MAX_BYTES = 64 * 1024 * 1024  # far above any listing page; stops a runaway download
USER_AGENT = f"papers-digest/{__version__} (+https://github.com/papers-digest)"


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def fetch(
    url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    max_bytes: int = MAX_BYTES,
) -> bytes:
    """The response body of a GET, following redirects, within `timeout` seconds in all;
    raises SourceError on any failure.

    The download runs in a daemon thread that the caller waits for at most `timeout`: a blocked
    read cannot be interrupted portably, so at the deadline the caller gives up on it and the
    thread stops at its next chunk (or its own per-read timeout), keeping nothing."""
    cancelled = threading.Event()
    outcome: list[bytes | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_download(url, transport, timeout, max_bytes, cancelled))
        except BaseException as exc:  # handed to the caller's thread, raised there
            outcome.append(exc)

    thread = threading.Thread(target=work, name=f"fetch {url}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not outcome:
        cancelled.set()
        raise SourceError(
            f"{url}: not downloaded within {timeout:g} s ([ingest] timeout, the whole transfer); "
            "refused"
        )
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _download(
    url: str,
    transport: httpx.BaseTransport | None,
    timeout: float,
    max_bytes: int,
    cancelled: threading.Event,
) -> bytes:
    try:
        with (
            httpx.Client(
                transport=transport,
                timeout=httpx.Timeout(timeout),
                follow_redirects=True,
                headers={"User-Agent": USER_AGENT},
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise SourceError(
                    f"{url}: HTTP {response.status_code} {response.reason_phrase}; "
                    "expected the source document"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                if cancelled.is_set():
                    return b""
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(f"{url}: response larger than {max_bytes} bytes; refused")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise SourceError(f"{url}: no answer within {timeout:g} s (timed out)") from None
    except httpx.ConnectError as exc:
        raise SourceError(f"{url}: cannot connect ({_reason(exc)}); are you offline?") from None
    except httpx.InvalidURL as exc:
        raise SourceError(f"{url}: not a valid URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: download failed ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
