"""ComposeBlend: composes the blend from the prepared songs (soundcanvas.blend.compose): a weighted
mixture of the songs' sequence models, arranged for General MIDI, checked against the quality gates
(a failing attempt is retried with the next seed; none passing raises BlendRejected, which names the
gate). Writes blend.mid and records key, tempo, metre, attribution, novelty and the gates.

Input: `{"blend": {"userId", "blendId", "options"}, "preparedKey"}`. Returns `{render: {...}}`, what the
Render function needs: the MIDI's key, its length, and where to write the WAV and the MP3.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import blends
from soundcanvas.blend.compose import BlendOptions, compose_blend
from soundcanvas.blend.prepare import Prepared
from soundcanvas.blend.steps import STOPPED, BlendRuntime
from soundcanvas.core.errors import BlendNotFound
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    blend = event["blend"]
    user_id, blend_id = str(blend["userId"]), str(blend["blendId"])
    logger.append_keys(blend_id=blend_id)
    started = time.perf_counter()
    with transient_aws_errors():
        prepared = Prepared.from_json(runtime.get_json(str(event["preparedKey"])))
    result = compose_blend(prepared, BlendOptions.from_json(blend["options"]))
    midi_key = blends.output_key(user_id, blend_id, "blend.mid")
    summary = result.summary()
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    with transient_aws_errors():
        runtime.put_bytes(midi_key, result.midi, "audio/midi")
        if not runtime.blends.advance(user_id, blend_id, finished="compose", elapsed_ms=elapsed_ms,
                                      next_stage="render", summary=summary):
            runtime.discard(midi_key)
            raise BlendNotFound(STOPPED)
    metrics.add_metric(name="BlendComposeMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("blend composed", extra={"elapsed_ms": elapsed_ms, "attempts": summary.get("attempts"),
                                         "attribution": summary.get("attribution")})
    return {
        "midiKey": midi_key,
        "render": {
            "midiKey": midi_key,
            "durationSeconds": result.duration_seconds,
            "audioKey": blends.output_key(user_id, blend_id, "blend.wav"),
            "previewKey": blends.output_key(user_id, blend_id, "blend.mp3"),
        },
    }
