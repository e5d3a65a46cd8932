"""The subscriber-facing web app: sign up, confirm, preferences with live preview, unsubscribe.

A thin shell: the workflow lives in `digest.app.subscription`, editions in
`digest.app.edition`, mail in `digest.deliver`. `digest serve` mounts `create_app(settings, store)`.
"""

from digest.web.app import create_app

__all__ = ["create_app"]
