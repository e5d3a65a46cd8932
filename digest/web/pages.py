"""Server-side page rendering: Jinja with autoescape on, templates from the package, overridable.

Page templates live in `templates/web/` of the package; an operator's `[render] templates_dir`
is searched first, so a site can restyle any page or mail by dropping a file of the same name
into its own `web/` folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

import digest
from digest.settings import Settings
from digest.web.security import CSRF_FIELD, csrf_field_value

DEFAULT_TEMPLATES = Path(digest.__file__).resolve().parent / "templates"
STATIC_DIR = DEFAULT_TEMPLATES / "web" / "static"


def template_environment(settings: Settings) -> Environment:
    """HTML (`*.html`, `*.html.j2`) is escaped; text mail bodies (`*.txt.j2`) are not."""
    folders = [DEFAULT_TEMPLATES]
    if settings.render.templates_dir is not None:
        folders.insert(0, Path(settings.render.templates_dir))
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders]),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=True, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def web_url(value: str | None) -> str | None:
    """Only http(s) links from paper metadata become hrefs (never `javascript:` and friends)."""
    if value and value.lower().startswith(("https://", "http://")):
        return value
    return None


class Pages:
    """Renders `web/<name>.html` with what every page needs (site name, CSRF field, assets)."""

    def __init__(self, settings: Settings, environment: Environment) -> None:
        self._settings = settings
        self.environment = environment
        self.environment.filters["web_url"] = web_url
        self.environment.globals.update(
            list_name=settings.digest.list_name,
            lang=settings.site.lang,
            csrf_field=CSRF_FIELD,
            asset_version=digest.__version__,
        )

    def render(self, request: Request, name: str, context: Mapping[str, Any]) -> str:
        template = self.environment.get_template(f"web/{name}")
        values = {
            "request": request,
            "csrf_token": csrf_field_value(request, self._settings.secret_keys),
            **context,
        }
        return template.render(values)

    def page(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        body = self.render(request, name, context or {})
        return HTMLResponse(body, status_code=status, headers=dict(headers or {}))
