"""Commands: evaluate (filled in by its issue)."""

COMMANDS: list = []
