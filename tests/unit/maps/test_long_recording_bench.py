"""The long-recording bench (bench/maps/long_recording.py): its recording is music to Chromaprint, and both
paths it compares fingerprint it alike."""

from pathlib import Path

import soundfile

from bench.maps import long_recording as bench


def test_the_synthetic_recording_is_fingerprinted_alike_by_both_paths(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    seconds = bench.write_recording(path, hours=0.02)
    assert soundfile.info(str(path)).duration == seconds and abs(seconds - 72.0) < 0.01
    chunks, whole = bench.measure(path, "chunks"), bench.measure(path, "whole")
    assert "error" not in chunks and "error" not in whole  # not refused as a steady tone or silence
    assert chunks["items"] == whole["items"] > 500
    assert abs(chunks["seconds"] - seconds) < 0.5
    text = bench.report({"chunks": chunks, "whole": whole}, 0.02, 3.0)
    assert text.count("| yes |") == 2
