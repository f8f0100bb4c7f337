"""Query parameters shared by the API's list endpoints."""

from __future__ import annotations

from datetime import datetime

from wawindow.domain.times import to_utc
from wawindow.entrypoints.api.problems import Problem


def query_instant(value: datetime | None, field: str) -> datetime | None:
    """A query time as a UTC instant (no offset: UTC); out-of-range values are a 422."""
    if value is None:
        return None
    try:
        return to_utc(value)
    except (OverflowError, ValueError) as error:
        raise Problem(
            422, "validation_error", "Invalid request", "time out of range", field=field
        ) from error


def check_period(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise Problem(
            422,
            "validation_error",
            "Invalid request",
            "until must be after since",
            field="query.until",
        )
