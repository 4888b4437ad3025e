"""PreviewSong: the bookkeeping around a song's short preview, which picture → music's Render function
renders (statemachine/song.asl.json). Three inputs, one per state:

- `{plan: {songId}}` (a catalog song a client asked about; the Songs API marked it RENDERING): what to render,
  `{preview: {songId, midiKey, durationSeconds, audioKey, previewKey}}`;
- `{record: <that preview>, rendered}`: the preview READY on the song record; the WAV Render also wrote is removed
  (the MP3 is what a client plays);
- `{failed: <the execution's state>}`: the preview FAILED with a message on the record; the song stays READY.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.blend import songs
from soundcanvas.blend.steps import BlendRuntime
from soundcanvas.core import failures
from soundcanvas.core.errors import SongNotFound
from soundcanvas.core.steps import transient_aws_errors

logger = Logger()
metrics = Metrics()
runtime = BlendRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "plan" in event:
        return _plan(str(event["plan"]["songId"]))
    if "record" in event:
        return _record(event["record"])
    return _failed(event["failed"])


def _plan(song_id: str) -> dict[str, Any]:
    logger.append_keys(song_id=song_id)
    with transient_aws_errors():
        song = runtime.songs.get(song_id)
    if song is None or song["status"] != songs.READY or not song.get("midiKey"):
        raise SongNotFound(f"song {song_id} is gone or not READY; no preview to render")
    return {"songId": song_id, "preview": songs.preview_request(song)}


def _record(preview: dict[str, Any]) -> dict[str, Any]:
    song_id = str(preview["songId"])
    logger.append_keys(song_id=song_id)
    with transient_aws_errors():
        runtime.discard(str(preview["audioKey"]))
        recorded = runtime.songs.set_preview(song_id, status=songs.READY, preview_key=str(preview["previewKey"]))
        if not recorded:  # the song was deleted meanwhile
            runtime.discard(str(preview["previewKey"]))
    metrics.add_metric(name="SongPreviewsRendered", unit=MetricUnit.Count, value=1)
    logger.info("song preview ready", extra={"recorded": recorded})
    return {"recorded": recorded}


def _failed(state: dict[str, Any]) -> dict[str, Any]:
    song_id = str(((state.get("song") or {}).get("songId")) or (state.get("preview") or {}).get("songId") or "")
    if not song_id:
        return {"marked": False, "reason": "no song in the workflow state"}
    logger.append_keys(song_id=song_id)
    message = failures.describe(state.get("error") or {}, "preview", retry_hint="the song itself is unaffected",
                                reference=f"song {song_id}")
    with transient_aws_errors():
        marked = runtime.songs.set_preview(song_id, status=songs.FAILED, error=message)
    logger.warning("song preview failed", extra={"error_message": message, "marked": marked})
    return {"marked": marked, "songId": song_id, "message": message}
