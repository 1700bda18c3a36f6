"""Commands: report (filled in by its issue)."""

COMMANDS: list = []
