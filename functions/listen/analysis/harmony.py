"""Harmony: once the notes and the audio's accents are known, the rhythm (tempo, meter, beats and
downbeats from both), then the key (with confidence and the runner-up keys) and the chords, one per
beat smoothed by an HMM (soundcanvas.listen.rhythm, soundcanvas.listen.harmony). It reads what Rhythm
measured from the audio (accents and chroma), not the audio itself."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core.errors import TranscriptionNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.listen import harmony, rhythm
from soundcanvas.listen.notes import Note
from soundcanvas.listen.steps import STOPPED, ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, analysis = event["job"], event["analysis"]
    logger.append_keys(transcription_id=job["transcriptionId"])
    with stopwatch() as elapsed:
        with transient_aws_errors():
            notes = [Note.from_json(item) for item in runtime.get_json(analysis["notes"]["notesKey"])]
            onsets = runtime.get_array(analysis["rhythm"]["onsetsKey"])
            chroma = runtime.get_array(analysis["rhythm"]["chromaKey"])
        measured = (onsets[0], onsets[1]) if onsets.size else None  # (2, 0): silence, the notes alone count
        found_rhythm = rhythm.estimate_rhythm(None, notes, audio_envelopes=measured)
        key = harmony.estimate_key(notes, audio_chroma=chroma)
        chords = harmony.estimate_chords(notes, found_rhythm.beats_seconds, key=key, audio_chroma=chroma,
                                         downbeats_seconds=found_rhythm.downbeats_seconds)
        with transient_aws_errors():
            rhythm_key = runtime.put_json(job, "rhythm.json", {
                "beats": [round(float(t), 3) for t in found_rhythm.beats_seconds],
                "downbeats": [round(float(t), 3) for t in found_rhythm.downbeats_seconds],
            })
            harmony_key = runtime.put_json(job, "harmony.json", {
                "key": key_json(key),
                "chords": [{"start": round(c.start_seconds, 3), "end": round(c.end_seconds, 3), "label": c.label}
                           for c in chords],
            })
    summary = {
        "tempoBpm": round(float(found_rhythm.tempo_bpm), 1),
        "timeSignature": found_rhythm.time_signature,
        "key": key_json(key),
        "chordCount": sum(1 for c in chords if c.label != "N"),
    }
    with transient_aws_errors():
        moved = runtime.store.advance(job["userId"], job["transcriptionId"], finished="harmony",
                                      elapsed_ms=elapsed["ms"], next_stage="tab", summary=summary)
    if not moved:
        runtime.discard(rhythm_key, harmony_key)
        raise TranscriptionNotFound(STOPPED)
    return {"rhythmKey": rhythm_key, "harmonyKey": harmony_key, **summary}


def key_json(key: harmony.Key) -> dict[str, Any]:
    """The key as the API shows it: tonic, mode, confidence and the runner-up keys."""
    return {
        "tonic": key.tonic,
        "mode": key.mode,
        "label": key.label,
        "confidence": round(float(key.confidence), 3),
        "alternatives": [{"tonic": tonic, "mode": mode, "score": round(float(score), 3)}
                         for tonic, mode, score in key.alternatives],
    }
