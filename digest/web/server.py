"""Serving the web app with uvicorn on a socket bound before anything starts."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from digest.errors import ListenError
from digest.web import accesslog

log = logging.getLogger("digest.web")


def bind(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is a clean error, not a half-started service.
    ListenError says whether the host or the port was at fault; the caller names its option."""
    sock: socket.socket | None = None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        if sock is not None:
            sock.close()
        option = "port" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "host"
        raise ListenError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})", option=option
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    # uvicorn re-raises the signals it captured once serve() returns, which would kill the
    # process before the scheduler drained; the service owns signal handling instead.
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: ASGIApp, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the web app. Its proxy-header handling is off: it would trust
    X-Forwarded-For from 127.0.0.1 by default. The app decides from `[web] trusted_proxies`
    (digest.web.security.ForwardedMiddleware)."""
    return uvicorn.Config(app, proxy_headers=False, **options)


async def serve_app(app: ASGIApp, sock: socket.socket, done: asyncio.Event) -> None:
    """Serve `app` on `sock` until `done` is set (then finish the requests in flight)."""
    accesslog.install()
    # No log_config: uvicorn's records go to the process's own handlers (`--log-format`)
    # instead of handlers of its own that would bypass the format and print to stdout.
    server = _Server(server_config(app, log_level="info", lifespan="auto", log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    host, port = sock.getsockname()[:2]
    log.info("web app on http://%s:%s", host, port)
    finished = asyncio.ensure_future(done.wait())
    await asyncio.wait([task, finished], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    finished.cancel()
