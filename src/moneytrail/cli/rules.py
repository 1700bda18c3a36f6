"""Commands: rules (filled in by its issue)."""

COMMANDS: list = []
