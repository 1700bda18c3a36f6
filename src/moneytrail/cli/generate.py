"""Commands: generate (filled in by its issue)."""

COMMANDS: list = []
