"""The contacts endpoints of the query API (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["contacts"])
