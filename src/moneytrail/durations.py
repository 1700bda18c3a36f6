"""The duration text of rule windows and run settings: a whole number and a unit.

``90m``, ``24h``, ``7d``, ``2w`` (minutes, hours, days, weeks). The letters mean
the same in polars' duration language, so a valid text is also a polars window.
Kept free of heavy imports: the params reader uses it when the CLI starts.
"""

from __future__ import annotations

import re
from datetime import timedelta

DURATION_TEXT = re.compile(r"^([1-9][0-9]*)(m|h|d|w)$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
UNIT_WORDS = {"m": "minute", "h": "hour", "d": "day", "w": "week"}
EXAMPLES = "90m, 24h, 7d, 2w"


def parse_duration(text: object) -> timedelta | None:
    """The duration ``text`` stands for, or None when it is not one."""
    match = DURATION_TEXT.match(text) if isinstance(text, str) else None
    if not match:
        return None
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])


def duration_words(text: str) -> str:
    """``7d`` → ``7 days`` (a text that is no duration is returned as it is)."""
    match = DURATION_TEXT.match(text)
    if not match:
        return text
    count, unit = int(match.group(1)), UNIT_WORDS[match.group(2)]
    return f"{count} {unit}{'s' if count != 1 else ''}"
