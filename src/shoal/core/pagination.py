"""Page-number pagination with a bounded page number: beyond MAX_PAGE it is a 400, never an OFFSET
the database cannot hold (page 2^63 was a 500)."""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 100_000


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1)  # above the endpoint's maximum: that maximum
