"""Tab: the last stage. Places every note on the guitar (soundcanvas.listen.tab: dynamic programming
over hand positions, for the transcription's tuning and capo), then writes what the user downloads:
the notes as MIDI, the tab as text and as a Guitar Pro 5 file, and result.json with everything. Marks
the transcription COMPLETE and removes the work files."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import storage
from soundcanvas.core.errors import TranscriptionNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.listen import tab, tab_files, transcribe, transcriptions
from soundcanvas.listen.notes import Note
from soundcanvas.listen.steps import ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


def _put(key: str, body: bytes, content_type: str) -> None:
    runtime.s3.put_object(Bucket=runtime.settings.bucket_name, Key=key, Body=body, ContentType=content_type)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, analysis, found = event["job"], event["analysis"], event["harmony"]
    user_id, transcription_id = job["userId"], job["transcriptionId"]
    logger.append_keys(transcription_id=transcription_id)
    options = job["options"]
    with stopwatch() as elapsed:
        with transient_aws_errors():
            notes = [Note.from_json(item) for item in runtime.get_json(analysis["notes"]["notesKey"])]
            rhythm = runtime.get_json(found["rhythmKey"])
            harmony = runtime.get_json(found["harmonyKey"])
        tuning = tab.parse_tuning(options["tuning"]["strings"])
        placed = tab.solve_tab(notes, tuning, int(options.get("capo", 0)))
        tempo_bpm, meter = float(found["tempoBpm"]), str(found["timeSignature"])
        outputs = {name: transcriptions.output_key(user_id, transcription_id, file) for name, file in (
            ("midiKey", "notes.mid"), ("tabKey", "tab.txt"), ("tabFileKey", "tab.gp5"), ("resultKey", "result.json"))}
        result = {
            "transcriptionId": transcription_id,
            "instrument": options.get("instrument", "auto"),
            "durationSeconds": event["decoded"]["durationSeconds"],
            "tempoBpm": tempo_bpm,
            "timeSignature": meter,
            "key": harmony["key"],
            "notes": [note.to_json() for note in notes],
            "beats": rhythm["beats"],
            "downbeats": rhythm["downbeats"],
            "chords": harmony["chords"],
            "tab": tab.tab_to_json(placed),
        }
        with transient_aws_errors():
            _put(outputs["midiKey"], transcribe.notes_to_midi(notes, quarter_notes_per_minute(tempo_bpm, meter), meter),
                 "audio/midi")
            _put(outputs["tabKey"], tab.ascii_tab(placed, tempo_bpm, time_signature=meter).encode(),
                 "text/plain; charset=utf-8")
            _put(outputs["tabFileKey"], tab_files.guitar_pro_bytes(placed, tempo_bpm, meter),
                 "application/x-guitar-pro")
            _put(outputs["resultKey"], storage_json(result), "application/json")
    with transient_aws_errors():
        moved = runtime.store.advance(user_id, transcription_id, finished="tab", elapsed_ms=elapsed["ms"],
                                      next_stage="done", outputs=outputs)
        if not moved:  # a retry of this step after it completed the transcription is a success
            record = runtime.store.get(user_id, transcription_id) or {}
            moved = record.get("status") == transcriptions.COMPLETE and record.get("outputs") == outputs
        if not moved:
            raise TranscriptionNotFound("the transcription stopped running before its results were written")
        storage.delete_prefix(runtime.s3, runtime.settings.bucket_name,
                              transcriptions.work_key(user_id, transcription_id, ""))
    metrics.add_metric(name="TranscriptionsCompleted", unit=MetricUnit.Count, value=1)
    logger.info("transcription complete", extra={"notes": len(notes), "unplaced": len(placed.unplaced)})
    return {"complete": True, "unplacedCount": len(placed.unplaced)}


def quarter_notes_per_minute(tempo_bpm: float, meter: str) -> float:
    """MIDI's tempo unit from Listen's (6/8 counts dotted quarters); 120 when no pulse was found."""
    if tempo_bpm <= 0:
        return 120.0
    return tempo_bpm * 1.5 if meter == "6/8" else tempo_bpm


def storage_json(data: Any) -> bytes:
    import json

    return json.dumps(data, separators=(",", ":")).encode()
