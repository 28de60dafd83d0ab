"""Integer types for API inputs that are bounded like the database columns they reach.

A JSON number such as ``1e20`` or ``9223372036854775808`` is a valid Python int, but no database
column holds it (SQLite: OverflowError, PostgreSQL: out of range): these types make it a 400 that
names the field, and the bounds appear in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja.parser import Parser
from pydantic import Field

BIG = 2**63 - 1  # BigAutoField keys and BigIntegerField
INT = 2**31 - 1  # IntegerField

DbId = Annotated[int, Field(ge=-BIG - 1, le=BIG)]
DbInt = Annotated[int, Field(ge=-INT - 1, le=INT)]


class ObjectBodyParser(Parser):
    """JSON bodies must be objects: every body of the API is one. Without this, ninja read ``null``,
    ``"hello"`` or ``[]`` as "no fields given" and answered 200 with defaults (django-ninja turns
    the error into a 400 ``Cannot parse request body``)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data
