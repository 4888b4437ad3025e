"""PrepareBlend: the Blend workflow's first step. Claims the blend (PENDING -> RUNNING) once, loads
its songs' MIDI from the catalog and brings them to one key, metre and tempo with their melody,
harmony and rhythm extracted (soundcanvas.blend.prepare); hands that to Compose as a work file.

Input: `{"blend": {"userId", "blendId"}, "executionId"}`. A replayed execution finds the blend claimed by
another (or finished, or deleted) and ends at once (`claimed: false`); the same execution retried
after a transient error finds its own claim and carries on.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import blends
from soundcanvas.blend.midi_files import read_song
from soundcanvas.blend.prepare import prepare_blend
from soundcanvas.blend.steps import STOPPED, BlendRuntime
from soundcanvas.core.errors import BlendNotFound, SongNotFound
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id, blend_id = str(event["blend"]["userId"]), str(event["blend"]["blendId"])
    logger.append_keys(blend_id=blend_id)
    started = time.perf_counter()
    with transient_aws_errors():
        record = runtime.blends.claim(user_id, blend_id, execution_id=str(event["executionId"]))
    if record is None:
        logger.info("blend already claimed, finished or deleted; nothing to do")
        return {"claimed": False}
    songs = []
    for entry in record["songs"]:
        with transient_aws_errors():
            song = runtime.songs.visible(str(entry["songId"]), user_id)
            if song is None or not song.get("midiKey"):
                raise SongNotFound(f"song {entry['songId']} ({entry.get('title')}) was deleted after the blend "
                                   f"was requested; choose another song")
            data = runtime.get_bytes(str(song["midiKey"]))
        songs.append((str(entry["songId"]), read_song(data)))
    prepared = prepare_blend(songs, [float(entry["weight"]) for entry in record["songs"]])
    key = blends.work_key(user_id, blend_id, "prepared.json")
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    with transient_aws_errors():
        runtime.put_json(key, prepared.to_json())
        if not runtime.blends.advance(user_id, blend_id, finished="prepare", elapsed_ms=elapsed_ms,
                                      next_stage="compose"):
            runtime.discard(key)
            raise BlendNotFound(STOPPED)
    metrics.add_metric(name="BlendPrepareMilliseconds", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    logger.info("songs prepared", extra={"elapsed_ms": elapsed_ms, "songs": len(songs)})
    return {"claimed": True, "blend": {"userId": user_id, "blendId": blend_id, "options": record["options"]},
            "preparedKey": key}
