"""Where email templates come from: the package's defaults, overridden file by file.

Defaults live inside the package (so an installed wheel renders mail with no checkout around it);
`[render] templates_dir` may hold any subset of the same file names, and a file found there wins.
HTML templates autoescape; the plain-text template does not. Both use StrictUndefined, so a typo
in a variable name is an error at start-up instead of a blank in ten thousand inboxes.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)

from digest.errors import ConfigError
from digest.settings import Settings

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"


def template_loader(templates_dir: Path | None) -> BaseLoader:
    package = PackageLoader("digest", "templates")
    if templates_dir is None:
        return package
    if not templates_dir.is_dir():
        raise ConfigError(
            f"[render] templates_dir: folder {templates_dir} does not exist "
            "(or $DIGEST_RENDER__TEMPLATES_DIR)"
        )
    return ChoiceLoader([FileSystemLoader(str(templates_dir)), package])


def make_environment(loader: BaseLoader, *, html: bool) -> Environment:
    return Environment(
        loader=loader,
        autoescape=html,  # noqa: S701 - only the plain-text part renders unescaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def environments(settings: Settings) -> tuple[Environment, Environment]:
    """(html, text) environments sharing one loader."""
    loader = template_loader(settings.render.templates_dir)
    return make_environment(loader, html=True), make_environment(loader, html=False)


def template_files(settings: Settings) -> list[Path]:
    """The files the digest is rendered from, for `preview --serve` to watch."""
    loader = template_loader(settings.render.templates_dir)
    env = make_environment(loader, html=False)
    files: list[Path] = []
    for name in (HTML_TEMPLATE, TEXT_TEMPLATE):
        filename = loader.get_source(env, name)[1]
        if filename:
            files.append(Path(filename))
    return files
