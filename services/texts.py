"""The free texts a use case takes (a reason, a decision, a statement): trimmed, not blank, bounded."""

from __future__ import annotations

from services.errors import BadUserInput

MAX_TEXT = 2000


def required_text(value: str, field: str) -> str:
    """The text without surrounding blanks; BAD_USER_INPUT naming ``field`` when it is empty or too long."""
    text = value.strip()
    if not text:
        raise BadUserInput(f"{field} must not be empty", field=field)
    if len(text) > MAX_TEXT:
        raise BadUserInput(f"{field} must be at most {MAX_TEXT} characters", field=field)
    return text
