"""Commands: ingest (filled in by its issue)."""

COMMANDS: list = []
