"""Turn an error caught by a workflow's Catch into one sentence for the person it happened to.

Both workflows end failures the same way (MarkFailed for generations, TrackFailed for tracks):
errors of ours carry a message written for the user; anything else gets a plain description
of what to do next and a reference to quote.
"""

from __future__ import annotations

import json
from typing import Any

from soundcanvas.core import errors

# Errors whose own message is written for the user (see soundcanvas.core.errors).
# TranscriptionFailed and ToolFailed name an operator's problem (a tool or the model missing): the person gets the plain
# description with a reference instead.
OPERATORS_PROBLEMS = {"TransientError", "TranscriptionFailed", "ToolFailed"}
USER_FACING = {cls.__name__ for cls in errors.SoundCanvasError.__subclasses__()} - OPERATORS_PROBLEMS
TRANSIENT = ("TransientError", "Lambda.TooManyRequestsException", "Lambda.ServiceException")


def describe(error: dict[str, Any], stage: str, *, retry_hint: str, reference: str) -> str:
    """`error` is Step Functions' `{"Error": <exception class name>, "Cause": <Lambda error JSON>}`."""
    name = str(error.get("Error", "Unknown"))
    try:
        cause = json.loads(error.get("Cause") or "{}")
    except ValueError:
        cause = {"errorMessage": error.get("Cause")}
    detail = str(cause.get("errorMessage") or "").strip() if isinstance(cause, dict) else ""
    if name in USER_FACING and detail:
        return detail
    if name == "States.Timeout":
        return f"the {stage} stage did not finish in time; {retry_hint}"
    if name in TRANSIENT:
        return f"the {stage} stage kept hitting a temporary AWS problem; {retry_hint}"
    return f"internal error in the {stage} stage ({name}); {retry_hint}, and report {reference} if it persists"
