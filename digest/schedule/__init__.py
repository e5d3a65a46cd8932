"""Scheduling: who is due for which edition (`due`), and the long-running service (`service`).

`digest.app.due` is core (pure over the database state); `digest.schedule.service` is the
APScheduler shell and is imported only by `digest serve`.
"""

from digest.app.due import Due, due_editions

__all__ = ["Due", "due_editions"]
