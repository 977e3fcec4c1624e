"""Time as the API stores and shows it: naive UTC at millisecond precision, rendered with `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as MongoDB stores it: naive UTC truncated to milliseconds."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision (what MongoDB stores) and a trailing `Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"
