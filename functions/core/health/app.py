"""GET /health: a liveness answer with no AWS calls, for load balancers and uptime checks; and
GET /openapi.json: the API's OpenAPI document, generated from the code by tools/openapi.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=600))  # uptime pages in browsers
VERSION = os.environ.get("SOUNDCANVAS_VERSION", "dev")
OPENAPI = (Path(__file__).parent / "openapi.json").read_text()


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "service": "soundcanvas", "version": VERSION}


@app.get("/openapi.json")
def openapi() -> Response[str]:
    return Response(200, "application/json", OPENAPI)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
