"""Analyze: decode the uploaded picture defensively, measure it, and choose the musical parameters.

On a regenerate run the stored features.json is reused: the picture is not decoded again.
Returns only its own result: `{featuresKey, features, params}`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import storage
from soundcanvas.core.errors import ImageRejected
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.analysis import analyze_image
from soundcanvas.generation.mapping import map_to_params
from soundcanvas.generation.music import ImageFeatures
from soundcanvas.generation.steps import StepRuntime

logger = Logger()
metrics = Metrics()
tracer = Tracer()
runtime = StepRuntime.from_env()


def _load_features(job: dict[str, Any], key: str) -> ImageFeatures | None:
    """The features stored by an earlier run of this job, if any."""
    s3 = runtime.s3
    try:
        body = s3.get_object(Bucket=runtime.settings.bucket_name, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return ImageFeatures.from_dict(json.loads(body))


def _read_image(job: dict[str, Any]) -> bytes:
    s3, limit = runtime.s3, runtime.settings.upload_max_bytes
    try:
        obj = s3.get_object(Bucket=runtime.settings.bucket_name, Key=job["imageKey"])
    except s3.exceptions.NoSuchKey as exc:
        raise ImageRejected("the uploaded picture is gone; create a new generation and upload it again") from exc
    size = int(obj["ContentLength"])
    if size > limit:
        raise ImageRejected(f"image file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB")
    data: bytes = obj["Body"].read()
    return data


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = event["job"]
    logger.append_keys(job_id=job["jobId"])
    started = time.perf_counter()
    key = storage.features_key(job["userId"], job["jobId"])
    written: list[str] = []
    with transient_aws_errors():
        features = _load_features(job, key) if job.get("run", 0) > 0 else None
        if features is None:
            features = analyze_image(_read_image(job), max_pixels=runtime.settings.max_image_megapixels * 1_000_000)
            runtime.s3.put_object(
                Bucket=runtime.settings.bucket_name,
                Key=key,
                Body=json.dumps(features.to_dict()).encode(),
                ContentType="application/json",
            )
            written.append(key)
        options = job["options"]
        params = map_to_params(
            features,
            genre=options.get("genre"),
            mode=options["mode"],
            duration_seconds=int(options["durationSeconds"]),
            seed=int(options["seed"]),
        )
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        runtime.advance_or_discard(
            job,
            finished="analyze",
            elapsed_ms=elapsed_ms,
            next_stage="compose",
            written=written,
            params=params.to_dict(),
            featuresKey=key,
        )
    metrics.add_metric(name="AnalyzeMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("picture analysed", extra={"params": params.to_dict(), "elapsed_ms": elapsed_ms})
    return {"featuresKey": key, "features": features.to_dict(), "params": params.to_dict()}
