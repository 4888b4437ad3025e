"""Which recordings two drum kits or two SoundFonts share: a held-out split is held out only if nothing the
model learns from or is chosen on plays the same recording.

    shared_notes(TIMGM, GMBANK, cache)      # GM drum notes whose single hits are the same sound on both
    shared_programs(TIMGM, GMBANK, cache)   # GM programs whose middle C is the same sound on both

A kit is a SoundFont (its standard kit, or another GM drum kit by program), a recorded kit (samplekits.SampleKit)
or a kit we synthesize. Each GM drum note of grooves.GM_NOTE_TO_LANE is rendered once, alone, at one velocity
(bench/maps/grooves.py renders it, cached like the grooves); two kits share a note where the two hits' normalised
cross-correlation reaches MATCH. A different recording of the same kind of drum stays well below it (at most 0.87
among the kits and samples the drum bench plays: kicks, near sine waves, come closest); the same sample played by
two SoundFonts, or by a SoundFont and a recorded kit, reaches 0.99 or more.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import mido
import numpy as np
import soundfile

from bench.maps import grooves
from bench.maps.samplekits import SampleKit
from bench.maps.synthkits import SynthKit
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ

Kit = Path | SampleKit | SynthKit
NOTES = tuple(sorted(GM_NOTE_TO_LANE))
VELOCITY = 112
SPACING_SECONDS = 1.5
COMPARED_SECONDS = 0.5  # the first half second of each hit: the attack and body, before any release
MATCH = 0.98


def hits_groove(program: int = 0) -> grooves.Groove:
    """Every GM drum note once, SPACING_SECONDS apart, on the kit of `program` (a SoundFont's drum kit)."""
    notes = tuple(grooves.DrumNote(0.25 + i * SPACING_SECONDS, note, VELOCITY) for i, note in enumerate(NOTES))
    bars = int(np.ceil((0.25 + len(NOTES) * SPACING_SECONDS) / 2.0))  # 2 s bars at 120 BPM
    return grooves.Groove(f"single-hits-k{program}", "hits", 120.0, bars, 0, program, notes)


def single_hits(kit: Kit, cache: Path, program: int = 0) -> dict[int, np.ndarray]:
    """GM note -> its hit on `kit` (COMPARED_SECONDS of mono audio at SAMPLE_RATE_HZ)."""
    audio = grooves.render_part(hits_groove(program), "drums", kit, cache)
    length = round(COMPARED_SECONDS * SAMPLE_RATE_HZ)
    out = {}
    for hit in hits_groove(program).drums:
        start = round(hit.time_seconds * SAMPLE_RATE_HZ)
        out[hit.note] = audio[start:start + length]
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The largest normalised cross-correlation of a and b over every lag (1.0: one is a scaled, shifted copy
    of the other); 0 where either is silent."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        return 0.0
    size = a.size + b.size - 1
    n = 1 << (size - 1).bit_length()
    correlation = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return float(np.max(np.abs(correlation)) / norm)


def shared_notes(a: Kit, b: Kit, cache: Path, programs: Iterable[int] = (0,)) -> list[int]:
    """The GM notes that `a`'s standard kit plays with the same sound as `b` does on any of `programs`
    (SoundFont drum kits; a recorded or synthesized kit has one)."""
    mine = single_hits(a, cache)
    shared = set()
    for program in programs if isinstance(b, Path) else (0,):
        theirs = single_hits(b, cache, program)
        shared |= {note for note in NOTES if similarity(mine[note], theirs[note]) >= MATCH}
    return sorted(shared)


GM_KIT_PROGRAMS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush


def overlaps(held_out: Mapping[str, Kit], others: Mapping[str, Kit], cache: Path) -> dict[tuple[str, str], list[int]]:
    """(held-out kit, other kit) -> the notes they share, for every pair that shares any; a SoundFont among
    `others` is compared on each of its GM_KIT_PROGRAMS."""
    out = {}
    for held_name, held in held_out.items():
        for other_name, other in others.items():
            notes = shared_notes(held, other, cache, GM_KIT_PROGRAMS)
            if notes:
                out[(held_name, other_name)] = notes
    return out


PROGRAMS = tuple(range(128))
PROGRAM_NOTE = 60  # middle C: inside every GM program's range


def program_hits(soundfont: Path, cache: Path) -> dict[int, np.ndarray]:
    """GM program -> its middle C on `soundfont` (COMPARED_SECONDS of mono audio at SAMPLE_RATE_HZ), all 128
    rendered once, SPACING_SECONDS apart, by the fluidsynth CLI (cached in `cache`)."""
    cached = cache / f"programs-{soundfont.stem}-n{PROGRAM_NOTE}.wav"
    if not cached.exists():
        midi = mido.MidiFile(ticks_per_beat=480)  # 120 BPM: 960 ticks a second
        track = mido.MidiTrack()
        midi.tracks.append(track)
        spacing_ticks = round(SPACING_SECONDS * 960)
        for program in PROGRAMS:
            track.append(mido.Message("program_change", channel=0, program=program, time=0))
            track.append(mido.Message("note_on", channel=0, note=PROGRAM_NOTE, velocity=VELOCITY, time=0))
            track.append(mido.Message("note_off", channel=0, note=PROGRAM_NOTE, time=spacing_ticks))
        with tempfile.TemporaryDirectory() as work:
            midi_path, wav = Path(work) / "programs.mid", Path(work) / "programs.wav"
            midi.save(str(midi_path))
            subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SAMPLE_RATE_HZ), "-F", str(wav),
                            str(soundfont), str(midi_path)], check=True, capture_output=True, timeout=300)
            audio, _ = soundfile.read(str(wav), dtype="float32", always_2d=True)
        cache.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(cached), audio.mean(axis=1), SAMPLE_RATE_HZ, subtype="FLOAT")
    audio, _ = soundfile.read(str(cached), dtype="float32")
    length, step = round(COMPARED_SECONDS * SAMPLE_RATE_HZ), round(SPACING_SECONDS * SAMPLE_RATE_HZ)
    return {program: np.asarray(audio[i * step:i * step + length]) for i, program in enumerate(PROGRAMS)}


def shared_programs(a: Path, b: Path, cache: Path) -> list[int]:
    """The GM programs that SoundFonts `a` and `b` play with the same recording."""
    mine, theirs = program_hits(a, cache), program_hits(b, cache)
    return [program for program in PROGRAMS if similarity(mine[program], theirs[program]) >= MATCH]
