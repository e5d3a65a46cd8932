"""papers-digest: trending research papers in your inbox.

The package is a library first: sources → store → match → render → deliver. The command line
(`digest.cli`), the web app (`digest.web`) and the scheduler (`digest.schedule`) are thin shells
over it.
"""

__version__ = "0.1.0"
