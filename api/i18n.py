"""The language of a response's error messages, from the request's ``Accept-Language`` (RFC 9110 §12.5.4).

Chinese when the caller prefers any ``zh`` range (``zh``, ``zh-CN``, ``zh-Hans``, ``zh-TW`` …) to English, by
q-value; English otherwise, and when the header is absent or unreadable. Only ``message`` changes:
``extensions.code`` and the rest of an error stay as they are, so a client's handling never depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schema.messages import translate

ENGLISH = "en"
CHINESE = "zh"


def _quality(parameters: Iterable[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def language_of(header: str | bytes | None) -> str:
    """``zh`` or ``en``: the better of the two by q-value, the earlier on a tie; ``*`` counts as English."""
    if not header:
        return ENGLISH
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    best = {CHINESE: 0.0, ENGLISH: 0.0}
    first: dict[str, int] = {}
    for position, item in enumerate(text[:512].split(",")):
        tag, *parameters = item.split(";")
        primary = tag.strip().lower().split("-")[0]
        language = CHINESE if primary == CHINESE else ENGLISH if primary in (ENGLISH, "*") else None
        if language is None:
            continue
        quality = _quality(parameters)
        if quality > best[language]:
            best[language] = quality
            first.setdefault(language, position)
    if best[CHINESE] > best[ENGLISH]:
        return CHINESE
    if best[CHINESE] > 0 and best[CHINESE] == best[ENGLISH] and first[CHINESE] < first[ENGLISH]:
        return CHINESE
    return ENGLISH


def translated_errors(errors: Any, language: str) -> Any:
    """A response's ``errors`` with each message in ``language``, in place (the list as given)."""
    if language == ENGLISH or not isinstance(errors, list):
        return errors
    for error in errors:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error["message"] = translate(error["message"], language)
    return errors
