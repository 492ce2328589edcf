"""The shapes every part of the emulator passes around: Bot API objects as JSON, Unix dates."""

from __future__ import annotations

import time
from typing import Any

JSON = dict[str, Any]


def now_ts() -> int:
    """A Bot API date: whole seconds since the Unix epoch."""
    return int(time.time())


# Parameters that clients send JSON-serialised inside form fields (aiogram always does).
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "media",
        "commands",
        "scope",
        "allowed_updates",
        "message_ids",
    }
)
