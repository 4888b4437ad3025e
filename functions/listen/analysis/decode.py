"""DecodeAudio: the Listen workflow's first stage after the claim. Sniffs what the source really is
and decodes it with ffmpeg to mono float32 at the model's rate (soundcanvas.listen.audio); the
array is handed to the next stages as a work file. A file that is not audio, too long, truncated
or empty fails here with a message a person can act on (AudioRejected)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core.errors import TranscriptionNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.listen import audio
from soundcanvas.listen.steps import STOPPED, ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = event["job"]
    logger.append_keys(transcription_id=job["transcriptionId"])
    with stopwatch() as elapsed:
        with tempfile.TemporaryDirectory(prefix="listen-decode-") as tmp:
            path = Path(tmp) / Path(job["sourceKey"]).name
            with transient_aws_errors():
                runtime.s3.download_file(runtime.settings.bucket_name, job["sourceKey"], str(path))
            samples = audio.decode(path, max_duration_seconds=runtime.settings.transcription_max_seconds)
        with transient_aws_errors():
            audio_key = runtime.put_array(job, "audio.npy", samples)
    duration_seconds = round(len(samples) / audio.SAMPLE_RATE_HZ, 2)
    with transient_aws_errors():
        moved = runtime.store.advance(job["userId"], job["transcriptionId"], finished="decode", elapsed_ms=elapsed["ms"],
                                      next_stage="analyze", summary={"durationSeconds": duration_seconds})
    if not moved:
        runtime.discard(audio_key)
        raise TranscriptionNotFound(STOPPED)
    logger.info("decoded", extra={"duration_seconds": duration_seconds, "ms": elapsed["ms"]})
    return {"audioKey": audio_key, "durationSeconds": duration_seconds}
