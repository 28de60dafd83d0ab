"""Export endpoint: GET /api/v1/exports (streamed CSV or xlsx)."""

from ninja import Router

router = Router(tags=["exports"])
