"""`digest preview --serve`: previews on 127.0.0.1, re-rendered when a template file changes.

A shell over `digest.app.preview.render_previews` (the same code as the files and the sender).
The page shows the HTML part (in a sandboxed frame with a desktop/mobile width switch), the text
part and the raw message side by side, and polls `/version` to reload itself after a template
edit. A template error is shown on the page until the file is fixed; the server keeps running.
Starlette and uvicorn are imported only when serving, so other commands do not pay for them.
"""

from __future__ import annotations

import html
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from digest.app.preview import Preview, render_previews
from digest.errors import DigestError
from digest.render.loader import template_files
from digest.render.renderer import Renderer
from digest.settings import Settings
from digest.store import Store

if TYPE_CHECKING:
    from starlette.applications import Starlette

POLL_SECONDS = 0.5
# The mail's HTML is foreign content: no scripts, no same-origin access, nothing fetched but images.
FRAME_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src https: data:"
)


class PreviewState:
    """The current previews (or the error that stopped them) and a version that changes when
    they are re-rendered."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        subscriber: str | None = None,
        edition_date: date | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.subscriber = subscriber
        self.edition_date = edition_date
        self.lock = threading.Lock()
        self.previews: dict[str, Preview] = {}
        self.error: str | None = None
        self.version = 0
        self._stamps: dict[Path, float] = {}
        self.files = template_files(settings)
        self._stamps = self._mtimes()
        self.refresh()

    def _mtimes(self) -> dict[Path, float]:
        stamps = {}
        for path in self.files:
            try:
                stamps[path] = path.stat().st_mtime
            except OSError:
                stamps[path] = -1.0
        return stamps

    def refresh(self) -> None:
        try:
            renderer = Renderer(self.settings)
            previews = {
                p.slug: p
                for p in render_previews(
                    self.store,
                    self.settings,
                    now=datetime.now(UTC),
                    subscriber=self.subscriber,
                    edition_date=self.edition_date,
                    renderer=renderer,
                )
            }
            error = None
        except DigestError as exc:
            previews, error = {}, str(exc)
        with self.lock:
            if previews or error is None:
                self.previews = previews
            self.error = error
            self.version += 1

    def check_for_changes(self) -> bool:
        """Re-render when any template file changed since the last look."""
        stamps = self._mtimes()
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        self.refresh()
        return True

    def watch(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS):
            self.check_for_changes()


def create_preview_app(state: PreviewState) -> Starlette:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    def find(request: Request) -> Preview:
        with state.lock:
            found = state.previews.get(request.path_params["slug"])
        if found is None:
            from starlette.exceptions import HTTPException

            raise HTTPException(404, "no such preview")
        return found

    async def page(request: Request) -> Response:
        with state.lock:
            previews = list(state.previews.values())
            error, version = state.error, state.version
        chosen = request.query_params.get("s") or (previews[0].slug if previews else "")
        return HTMLResponse(viewer_page(previews, chosen, error, version))

    async def html_part(request: Request) -> Response:
        return HTMLResponse(find(request).html, headers={"Content-Security-Policy": FRAME_CSP})

    async def text_part(request: Request) -> Response:
        return PlainTextResponse(find(request).text)

    async def raw(request: Request) -> Response:
        return Response(find(request).eml, media_type="text/plain; charset=utf-8")

    async def version(request: Request) -> Response:
        with state.lock:
            return JSONResponse({"version": state.version, "error": state.error})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/version", version),
            Route("/html/{slug}", html_part),
            Route("/text/{slug}", text_part),
            Route("/eml/{slug}", raw),
        ]
    )


def serve_previews(
    settings: Settings,
    store: Store,
    *,
    port: int,
    subscriber: str | None = None,
    edition_date: date | None = None,
) -> None:
    import uvicorn

    from digest.web.server import bind

    # Bound first, as `digest serve` does: a busy port is one line and exit 2, before any
    # rendering, not uvicorn's own message and exit 3.
    sock = bind("127.0.0.1", port)
    try:
        state = PreviewState(settings, store, subscriber=subscriber, edition_date=edition_date)
        stop = threading.Event()
        watcher = threading.Thread(target=state.watch, args=(stop,), daemon=True)
        watcher.start()
        print(f"previews on http://127.0.0.1:{port}/ (watching {len(state.files)} template files)")
        try:
            config = uvicorn.Config(create_preview_app(state), log_level="warning")
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            stop.set()
            watcher.join(timeout=2)
    finally:
        sock.close()


def viewer_page(previews: list[Preview], chosen: str, error: str | None, version: int) -> str:
    e = html.escape
    items = "".join(
        f'<li{" class=on" if p.slug == chosen else ""}><a href="/?s={e(p.slug)}">{e(p.email)}</a>'
        f"<small>{p.paper_count} paper{'' if p.paper_count == 1 else 's'} · "
        f"{e(p.subject)}</small></li>"
        for p in previews
    )
    banner = f'<p class="error">{e(error)}</p>' if error else ""
    current = next((p for p in previews if p.slug == chosen), None)
    if current is None:
        body = "<p>No preview to show.</p>"
    else:
        s = e(current.slug)
        body = f"""
<div class="bar"><strong>{e(current.subject)}</strong>
<button onclick="size(640)">Desktop</button><button onclick="size(375)">Mobile</button></div>
<div class="panes">
<section><h2>HTML</h2><iframe id="mail" src="/html/{s}" sandbox="allow-popups"></iframe></section>
<section><h2>Text</h2><pre>{e(current.text)}</pre></section>
<section><h2>Source</h2><pre>{e(current.eml.decode("ascii", "replace"))}</pre></section>
</div>"""
    stamp = time.strftime("%H:%M:%S")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Digest previews</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }}
nav {{ width: 260px; overflow: auto; border-right: 1px solid #ddd; padding: .5rem; }}
nav li {{ list-style: none; margin: .3rem 0; }} nav ul {{ padding: 0; }}
nav small {{ display: block; color: #666; }} nav .on a {{ font-weight: 700; }}
main {{ flex: 1; display: flex; flex-direction: column; min-width: 0; }}
.bar {{ padding: .5rem; border-bottom: 1px solid #ddd; }} .bar button {{ margin-left: .5rem; }}
.panes {{ flex: 1; display: flex; min-height: 0; }}
section {{ flex: 1; display: flex; flex-direction: column; min-width: 0; }}
section:first-child {{ flex: none; }}
h2 {{ font-size: 13px; margin: .3rem .5rem; color: #555; }}
iframe {{ width: 640px; flex: 1; border: 0; background: #fff; transition: width .2s; }}
pre {{ flex: 1; overflow: auto; margin: 0; padding: .5rem; white-space: pre-wrap; }}
.error {{ background: #ffebe9; color: #82071e; padding: .5rem; margin: 0; }}
</style></head><body>
<nav><strong>Previews</strong> <small>rendered {stamp}</small><ul>{items}</ul></nav>
<main>{banner}{body}</main>
<script>
function size(w) {{ document.getElementById("mail").style.width = w + "px"; }}
const seen = {version};
setInterval(async () => {{
  try {{
    const r = await fetch("/version");
    if ((await r.json()).version !== seen) location.reload();
  }} catch (e) {{}}
}}, 1000);
</script>
</body></html>
"""
