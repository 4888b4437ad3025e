"""Transcribe: notes from the decoded audio with basic-pitch's ONNX model and our clean-up
(soundcanvas.listen.transcribe). Runs beside Rhythm in the workflow's Parallel state. Silence fails
here ("the audio is silent: no notes found")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core.errors import TranscriptionNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.listen import transcribe
from soundcanvas.listen.steps import STOPPED, ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, decoded = event["job"], event["decoded"]
    logger.append_keys(transcription_id=job["transcriptionId"])
    with stopwatch() as elapsed:
        with transient_aws_errors():
            samples = runtime.get_array(decoded["audioKey"])
        notes = transcribe.transcribe(samples)
        with transient_aws_errors():
            notes_key = runtime.put_json(job, "notes.json", [note.to_json() for note in notes])
    with transient_aws_errors():
        moved = runtime.store.advance(job["userId"], job["transcriptionId"], finished="transcribe",
                                      elapsed_ms=elapsed["ms"], next_stage="harmony",
                                      summary={"noteCount": len(notes)})
    if not moved:
        runtime.discard(notes_key)
        raise TranscriptionNotFound(STOPPED)
    logger.info("transcribed", extra={"notes": len(notes), "ms": elapsed["ms"]})
    return {"notesKey": notes_key, "noteCount": len(notes)}
