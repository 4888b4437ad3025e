"""Rhythm: what the later stages need from the audio itself, measured beside Transcribe in the
workflow's Parallel state: the accent envelopes (spectral-flux onset strength over all bands and over
the low bands: soundcanvas.listen.rhythm.audible_onset_strength; none for silence) and the chroma
(librosa's chroma_cqt: soundcanvas.listen.harmony.chroma_frames). Harmony, once the notes are known
too, weighs the accents with the notes' to choose tempo, meter and downbeats, and blends the chroma
into key and chords; it reads these instead of the audio."""

from __future__ import annotations

from typing import Any

import numpy as np
from aws_lambda_powertools import Logger, Metrics

from soundcanvas.core.errors import TranscriptionNotFound
from soundcanvas.core.steps import stopwatch, transient_aws_errors
from soundcanvas.listen import harmony, rhythm
from soundcanvas.listen.audio import SAMPLE_RATE_HZ
from soundcanvas.listen.steps import STOPPED, ListenRuntime

logger = Logger()
metrics = Metrics()
runtime = ListenRuntime.from_env()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job, decoded = event["job"], event["decoded"]
    logger.append_keys(transcription_id=job["transcriptionId"])
    with stopwatch() as elapsed:
        with transient_aws_errors():
            samples = runtime.get_array(decoded["audioKey"])
        measured = rhythm.audible_onset_strength(samples, SAMPLE_RATE_HZ)
        chroma = harmony.chroma_frames(samples, SAMPLE_RATE_HZ)
        onsets = np.stack(measured) if measured is not None else np.zeros((2, 0))  # (2, 0): silence
        with transient_aws_errors():
            onsets_key = runtime.put_array(job, "onsets.npy", onsets)
            chroma_key = runtime.put_array(job, "chroma.npy", chroma)
    with transient_aws_errors():
        moved = runtime.store.advance(job["userId"], job["transcriptionId"], finished="rhythm",
                                      elapsed_ms=elapsed["ms"], next_stage=None)
    if not moved:
        runtime.discard(onsets_key, chroma_key)
        raise TranscriptionNotFound(STOPPED)
    return {"onsetsKey": onsets_key, "chromaKey": chroma_key, "frames": int(onsets.shape[1])}
