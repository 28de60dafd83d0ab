"""Import endpoints: POST /api/v1/imports, GET /api/v1/imports/{id}, …/errors, POST /api/v1/imports/preview."""

from ninja import Router

router = Router(tags=["imports"])
