"""The long-running service: APScheduler says *when* to ingest and to tick; `digest.app.due`
says who is due, `digest.app.send` sends. Imported only by `digest serve`."""
