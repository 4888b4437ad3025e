"""Render (container image with FluidSynth): MIDI -> 44.1 kHz stereo WAV + MP3 preview, then COMPLETE.

Synthesis streams straight into the preview encoder (see soundcanvas.generation.render). Returns only
its own result: `{audioKey, previewKey, durationSeconds, peakDbfs, rmsDbfs}`.

Two callers, one function and image (so every product sounds the same):
- picture -> music: `{job, composition}`; the job's keys, and the job advances to COMPLETE here;
- another product's workflow (Blend; docs/architecture.md, "Seams"): `{render: {midiKey, durationSeconds,
  audioKey, previewKey}}`; the files are written where asked and the caller records them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import storage
from soundcanvas.core.steps import transient_aws_errors
from soundcanvas.generation.render import find_soundfont, render
from soundcanvas.generation.steps import StepRuntime

logger = Logger()
metrics = Metrics()
tracer = Tracer()
runtime = StepRuntime.from_env()
SOUNDFONT = find_soundfont()  # fail at cold start, loudly, if the image has none


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "render" in event:
        return _render_for_product(event["render"])
    job, composition = event["job"], event["composition"]
    logger.append_keys(job_id=job["jobId"])
    started = time.perf_counter()
    bucket, s3 = runtime.settings.bucket_name, runtime.s3
    audio_key = storage.audio_key(job["userId"], job["jobId"])
    preview_key = storage.preview_key(job["userId"], job["jobId"])
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        midi_path, wav_path, preview_path = Path(tmp, "in.mid"), Path(tmp, "output.wav"), Path(tmp, "preview.mp3")
        with transient_aws_errors():
            s3.download_file(bucket, composition["midiKey"], str(midi_path))
        result = render(
            midi_path, wav_path, preview_path, duration_seconds=float(composition["durationSeconds"]), soundfont=SOUNDFONT
        )
        with transient_aws_errors():
            s3.upload_file(str(wav_path), bucket, audio_key, ExtraArgs={"ContentType": "audio/wav"})
            s3.upload_file(str(preview_path), bucket, preview_key, ExtraArgs={"ContentType": "audio/mpeg"})
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    with transient_aws_errors():
        runtime.advance_or_discard(
            job,
            finished="render",
            elapsed_ms=elapsed_ms,
            next_stage="done",
            written=[audio_key, preview_key],
            audioKey=audio_key,
            previewKey=preview_key,
        )
    metrics.add_metric(name="RenderMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("piece rendered", extra={"elapsed_ms": elapsed_ms, "peak_dbfs": result.peak_dbfs})
    return {
        "audioKey": audio_key,
        "previewKey": preview_key,
        "durationSeconds": result.duration_seconds,
        "peakDbfs": result.peak_dbfs,
        "rmsDbfs": result.rms_dbfs,
    }


def _render_for_product(request: dict[str, Any]) -> dict[str, Any]:
    """Render another product's MIDI to the keys it names; no record is touched here."""
    started = time.perf_counter()
    bucket, s3 = runtime.settings.bucket_name, runtime.s3
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        midi_path, wav_path, preview_path = Path(tmp, "in.mid"), Path(tmp, "output.wav"), Path(tmp, "preview.mp3")
        with transient_aws_errors():
            s3.download_file(bucket, request["midiKey"], str(midi_path))
        result = render(
            midi_path, wav_path, preview_path, duration_seconds=float(request["durationSeconds"]), soundfont=SOUNDFONT
        )
        with transient_aws_errors():
            s3.upload_file(str(wav_path), bucket, request["audioKey"], ExtraArgs={"ContentType": "audio/wav"})
            s3.upload_file(str(preview_path), bucket, request["previewKey"], ExtraArgs={"ContentType": "audio/mpeg"})
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    metrics.add_metric(name="RenderMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("product MIDI rendered", extra={"elapsed_ms": elapsed_ms, "peak_dbfs": result.peak_dbfs})
    return {
        "audioKey": request["audioKey"],
        "previewKey": request["previewKey"],
        "durationSeconds": result.duration_seconds,
        "peakDbfs": result.peak_dbfs,
        "rmsDbfs": result.rms_dbfs,
        "elapsedMs": elapsed_ms,
    }
