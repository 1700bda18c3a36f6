"""Commands: scan (filled in by its issue)."""

COMMANDS: list = []
