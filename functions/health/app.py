"""GET /health: a liveness answer with no AWS calls, for load balancers and uptime checks."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
app = APIGatewayRestResolver()
VERSION = os.environ.get("SOUNDCANVAS_VERSION", "dev")


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "service": "soundcanvas", "version": VERSION}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
