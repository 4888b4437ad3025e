"""GET /health: a liveness answer with no AWS calls, for load balancers and uptime checks."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()
VERSION = os.environ.get("SOUNDCANVAS_VERSION", "dev")


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "service": "soundcanvas", "version": VERSION}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
