"""Decode: the Map workflow's first stage. Claims the map for this execution (a replayed start finds it
claimed and stops), then decodes the source recording with ffmpeg to mono float32 at the drum
transcriber's rate (soundcanvas.core.audio); the samples go to the next stage as a work file. A file
that is not audio, too long, truncated or empty fails here with a message a person can act on."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core import audio
from soundcanvas.core.errors import MapNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.maps import drum_maps, drums
from soundcanvas.maps.steps import STOPPED, MapsRuntime

logger = Logger()
metrics = Metrics()
runtime = MapsRuntime.from_env()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, map_id = str(event["userId"]), str(event["mapId"])
    logger.append_keys(map_id=map_id)
    with transient_aws_errors():
        record = runtime.maps.claim(user_id, map_id, execution_id=str(event["executionId"]))
    if record is None:
        logger.info("map already claimed, finished or deleted: nothing to do")
        return {"claimed": False}
    source_key = str(record["source"]["audioKey"])
    with stopwatch() as elapsed:
        with tempfile.TemporaryDirectory(prefix="maps-decode-") as tmp:
            path = Path(tmp) / Path(source_key).name
            with transient_aws_errors():
                runtime.s3.download_file(runtime.settings.bucket_name, source_key, str(path))
            samples = audio.decode(path, sample_rate_hz=drums.SAMPLE_RATE_HZ,
                                   max_duration_seconds=runtime.settings.map_max_seconds)
        with transient_aws_errors():
            audio_key = runtime.files.put_array(drum_maps.work_key(user_id, map_id, "audio.npy"), samples)
    duration_seconds = round(samples.size / drums.SAMPLE_RATE_HZ, 2)
    with transient_aws_errors():
        moved = runtime.maps.advance(user_id, map_id, finished="decode", elapsed_ms=elapsed["ms"], next_stage="drums",
                                     summary={"durationSeconds": duration_seconds})
    if not moved:
        runtime.files.discard(audio_key)
        raise MapNotFound(STOPPED)
    logger.info("decoded", extra={"duration_seconds": duration_seconds, "ms": elapsed["ms"]})
    return {"claimed": True, "audioKey": audio_key, "durationSeconds": duration_seconds}
