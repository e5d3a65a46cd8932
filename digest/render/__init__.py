"""Rendering digests: templates, the compile-once MJML layout, the shared HTML/text context."""

from __future__ import annotations

from digest.render.context import DigestLinks, FeedbackLinks
from digest.render.renderer import RenderedDigest, Renderer

__all__ = ["DigestLinks", "FeedbackLinks", "RenderedDigest", "Renderer"]
