"""Opaque global ids (``Node.id``) and pagination cursors: base64url of a typed key, never a bare row id."""

from __future__ import annotations

import base64
import binascii
from datetime import date

from schema.errors import BadUserInput


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def global_id(type_name: str, pk: int) -> str:
    return _encode(f"{type_name}:{pk}")


def parse_global_id(value: str, *, field: str = "id") -> tuple[str, int]:
    """``(type name, primary key)``; a string that is not one of our ids is bad input naming ``field``."""
    text = _decode(value)
    if text is not None:
        type_name, _, pk = text.partition(":")
        if type_name and pk.isdigit() and len(pk) <= 18:
            return type_name, int(pk)
    raise BadUserInput(f"{field} is not a valid id", field=field)


def subject_cursor(pk: int) -> str:
    return _encode(f"s:{pk}")


def parse_subject_cursor(value: str, field: str = "after") -> int:
    text = _decode(value)
    if text and text.startswith("s:") and text[2:].isdigit() and len(text) <= 20:
        return int(text[2:])
    raise BadUserInput(f"{field} is not a valid cursor", field=field)


def record_cursor(decided_on: date, pk: int) -> str:
    return _encode(f"r:{decided_on.isoformat()}:{pk}")


def parse_record_cursor(value: str, field: str = "after") -> tuple[date, int]:
    text = _decode(value)
    if text and text.startswith("r:"):
        day, _, pk = text[2:].partition(":")
        try:
            if pk.isdigit() and len(pk) <= 18:
                return date.fromisoformat(day), int(pk)
        except ValueError:
            pass
    raise BadUserInput(f"{field} is not a valid cursor", field=field)


def parse_audit_cursor(value: str, field: str = "after") -> int:
    """An audit log cursor is the entry's global id, the AuditEntry.id the auditor sees."""
    kind, pk = parse_global_id(value, field=field)
    if kind != "AuditEntry":
        raise BadUserInput(f"{field} is not an audit cursor", field=field)
    return pk


def access_cursor(pk: int) -> str:
    return _encode(f"a:{pk}")


def parse_access_cursor(value: str, field: str = "after") -> int:
    text = _decode(value)
    if text and text.startswith("a:") and text[2:].isdigit() and len(text) <= 20:
        return int(text[2:])
    raise BadUserInput(f"{field} is not a valid cursor", field=field)
