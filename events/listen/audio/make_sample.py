"""Recreate the sample recording for Listen, deterministically (no network, no assets).

    python events/listen/audio/make_sample.py      # writes guitar-take.mp3 next to this file

guitar-take.mp3  about 21 s, 22.05 kHz mono MP3: a nylon-string guitar picking C - Am - F - G - C - F
                 - G - C in C major at 100 BPM, 4/4 (a ringing bass on beats 1 and 3), rendered with FluidSynth
                 and the FluidR3 General MIDI SoundFont, encoded by ffmpeg: what a player records.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import mido

HERE = Path(__file__).resolve().parent
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
C, A_MINOR, F, G = (60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)
PROGRESSION = [C, A_MINOR, F, G, C, F, G, C]


def midi(bpm: float = 100.0) -> mido.MidiFile:
    """Eight bars of eighth-note picking, the bar's first note accented, the bass notes ringing."""
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    song.tracks.append(track)
    track += [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)), mido.MetaMessage("time_signature"),
              mido.Message("program_change", program=24, channel=0)]
    events: list[tuple[int, int, int, int]] = []  # (tick, 0 = off before 1 = on, pitch, velocity)
    for bar, chord in enumerate(PROGRESSION):
        pattern = [chord[0] - 12, chord[2], chord[0] + 12, chord[1], chord[2] - 12, chord[2], chord[0] + 12, chord[1]]
        for index, pitch in enumerate(pattern):
            start = (bar * 8 + index) * 240
            bass = index in (0, 4)  # the thumb's bass notes ring for a half bar, the fingers' for an eighth
            velocity = 110 if index == 0 else 90 if index == 4 else 70
            events += [(start, 1, pitch, velocity), (start + (960 if bass else 240), 0, pitch, 0)]
    now = 0
    for tick, kind, pitch, velocity in sorted(events):
        track.append(mido.Message("note_on" if kind else "note_off", note=pitch, velocity=velocity, time=tick - now))
        now = tick
    return song


def render(out: Path, *, bpm: float = 100.0, soundfont: Path = SOUNDFONT) -> Path:
    """The progression rendered with FluidSynth, then encoded by ffmpeg to out's format (mp3, flac, wav)."""
    with tempfile.TemporaryDirectory(prefix="listen-sample-") as tmp:
        mid, wav = Path(tmp) / "take.mid", Path(tmp) / "render.wav"
        midi(bpm).save(mid)
        subprocess.run(["fluidsynth", "-ni", "-g", "0.7", "-F", str(wav), "-r", "22050", str(soundfont), str(mid)],
                       check=True, capture_output=True, timeout=120)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ac", "1", str(out)], check=True, timeout=120)
    return out


if __name__ == "__main__":
    render(HERE / "guitar-take.mp3")
