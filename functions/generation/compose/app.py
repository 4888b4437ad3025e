"""Compose: write a multi-track General MIDI piece from the picture's parameters and profile.

Returns only its own result: `{midiKey, durationSeconds, bytes}`.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.composition import compose
from soundcanvas.generation.music import ImageFeatures, MusicParams
from soundcanvas.generation.steps import StepRuntime

logger = Logger()
metrics = Metrics()
tracer = Tracer()
runtime = StepRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, analysis = event["job"], event["analysis"]
    logger.append_keys(job_id=job["jobId"])
    started = time.perf_counter()
    params = MusicParams.from_dict(analysis["params"])
    midi = compose(params, ImageFeatures.from_dict(analysis["features"]))
    key = storage.midi_key(job["userId"], job["jobId"])
    with transient_aws_errors():
        runtime.s3.put_object(Bucket=runtime.settings.bucket_name, Key=key, Body=midi, ContentType="audio/midi")
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        runtime.advance_or_discard(
            job, finished="compose", elapsed_ms=elapsed_ms, next_stage="render", written=[key], midiKey=key
        )
    metrics.add_metric(name="ComposeMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("piece composed", extra={"bytes": len(midi), "elapsed_ms": elapsed_ms})
    return {"midiKey": key, "durationSeconds": params.durationSeconds, "bytes": len(midi)}
