"""Which recordings two drum kits or two SoundFonts share: a held-out split is held out only if nothing the
model learns from or is chosen on plays the same recording.

    shared_notes(TIMGM, GMBANK, cache)      # GM drum notes whose single hits are the same sound on both
    shared_programs(TIMGM, GMBANK, cache)   # GM programs whose middle C is the same sound on both

A kit is a SoundFont (its drum kits by GM program), a recorded kit (samplekits.SampleKit) or a kit we synthesize.
Each GM drum note of GM_NOTE_TO_LANE (or each GM program's middle C) is played once at VELOCITY, SPACING_SECONDS
apart so the previous sound has died away, with FluidSynth's reverb and chorus off; two kits share a note where the
first COMPARED_SECONDS of the two hits reach a normalised cross-correlation of MATCH. A different recording of the
same kind of drum stays well below it (at most 0.87 among the kits and samples the drum bench plays: kicks, near sine
waves, come closest); the same sample played by two SoundFonts, or by a SoundFont and a recorded kit, reaches 0.98
or more. What it does not see: other pitches and velocities of a program (one middle C at VELOCITY), and the other
velocity layers of a multi-layer recorded drum (one layer at VELOCITY).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import mido
import numpy as np

from bench.maps import grooves, samplekits
from bench.maps.samplekits import SampleKit
from bench.maps.synthkits import SynthKit
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ

Kit = Path | SampleKit | SynthKit
NOTES = tuple(sorted(GM_NOTE_TO_LANE))
PROGRAMS = tuple(range(128))
PROGRAM_NOTE = 60  # middle C: inside every GM program's range
VELOCITY = 112
HOLD_SECONDS = 1.0  # a program's note is held this long ...
SPACING_SECONDS = 4.0  # ... and the next sound starts this long after the last (a cymbal has died away)
COMPARED_SECONDS = 0.5  # the first half second of each sound: the attack and body, before any release
MATCH = 0.98
GM_KIT_PROGRAMS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush
RENDER_VERSION = 2  # in the cached renders' names: bump when rendering changes


def _sounds(midi_events: Iterable[tuple[int | None, int]], channel: int) -> mido.MidiFile:
    """A MIDI file (960 ticks a second) playing each (program or None, note) in turn, SPACING_SECONDS apart."""
    midi = mido.MidiFile(ticks_per_beat=480)  # at the default 120 BPM
    track = mido.MidiTrack()
    midi.tracks.append(track)
    hold, rest = round(HOLD_SECONDS * 960), round((SPACING_SECONDS - HOLD_SECONDS) * 960)
    wait = 0
    for program, note in midi_events:
        if program is not None:
            track.append(mido.Message("program_change", channel=channel, program=program, time=wait))
            wait = 0
        track.append(mido.Message("note_on", channel=channel, note=note, velocity=VELOCITY, time=wait))
        track.append(mido.Message("note_off", channel=channel, note=note, time=hold))
        wait = rest
    return midi


def _cut(audio: np.ndarray, keys: tuple[int, ...]) -> dict[int, np.ndarray]:
    """key -> the first COMPARED_SECONDS of its slot (the i-th SPACING_SECONDS of `audio`)."""
    length, step = round(COMPARED_SECONDS * SAMPLE_RATE_HZ), round(SPACING_SECONDS * SAMPLE_RATE_HZ)
    audio = np.pad(audio, (0, max(0, len(keys) * step - audio.size)))
    return {key: audio[i * step:i * step + length] for i, key in enumerate(keys)}


def drum_sounds(kit: Kit, cache: Path, program: int = 0) -> np.ndarray:
    """Every GM drum note of NOTES once on `kit` (a SoundFont's drum kit of `program`), SPACING_SECONDS apart from
    the start: mono audio at SAMPLE_RATE_HZ."""
    if isinstance(kit, Path):
        midi = _sounds([(program, NOTES[0])] + [(None, note) for note in NOTES[1:]], grooves.DRUM_CHANNEL)
        cached = cache / f"drum-hits-{kit.stem}-k{program}-v{VELOCITY}-s{SPACING_SECONDS:g}-r{RENDER_VERSION}.wav"
        return grooves.render_midi(midi, kit, cached, gain=None, effects=False)
    notes = tuple(grooves.DrumNote(i * SPACING_SECONDS, note, VELOCITY) for i, note in enumerate(NOTES))
    bars = int(np.ceil(len(NOTES) * SPACING_SECONDS / 2.0))  # 2 s bars at 120 BPM
    layers = kit.layers() if isinstance(kit, SynthKit) else samplekits.instruments(kit)
    return samplekits.play(grooves.Groove("single-hits", "hits", 120.0, bars, 0, 0, notes), layers)


def program_sounds(soundfont: Path, cache: Path) -> np.ndarray:
    """Every GM program's middle C in turn on `soundfont`, SPACING_SECONDS apart from the start: mono audio."""
    midi = _sounds([(program, PROGRAM_NOTE) for program in PROGRAMS], 0)
    cached = cache / f"programs-{soundfont.stem}-n{PROGRAM_NOTE}-v{VELOCITY}-s{SPACING_SECONDS:g}-r{RENDER_VERSION}.wav"
    return grooves.render_midi(midi, soundfont, cached, gain=None, effects=False)


def single_hits(kit: Kit, cache: Path, program: int = 0) -> dict[int, np.ndarray]:
    """GM drum note -> its hit on `kit` (drum_sounds), COMPARED_SECONDS of it."""
    return _cut(drum_sounds(kit, cache, program), NOTES)


def program_hits(soundfont: Path, cache: Path) -> dict[int, np.ndarray]:
    """GM program -> its middle C on `soundfont` (program_sounds), COMPARED_SECONDS of it."""
    return _cut(program_sounds(soundfont, cache), PROGRAMS)


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


def shared_notes(a: Kit, b: Kit, cache: Path, programs: Iterable[int] = (0,),
                 own_programs: Iterable[int] = (0,)) -> list[int]:
    """The GM drum notes that `a` (on any of `own_programs`, if a SoundFont) plays with the same recording as `b`
    does (on any of `programs`, if a SoundFont)."""
    mine = [single_hits(a, cache, p) for p in (own_programs if isinstance(a, Path) else (0,))]
    theirs = [single_hits(b, cache, p) for p in (programs if isinstance(b, Path) else (0,))]
    return [note for note in NOTES if any(similarity(x[note], y[note]) >= MATCH for x in mine for y in theirs)]


def shared_programs(a: Path, b: Path, cache: Path) -> list[int]:
    """The GM programs that SoundFonts `a` and `b` play with the same recording (at middle C)."""
    mine, theirs = program_hits(a, cache), program_hits(b, cache)
    return [program for program in PROGRAMS if similarity(mine[program], theirs[program]) >= MATCH]


def overlaps(held_out: Mapping[str, Kit], others: Mapping[str, Kit], cache: Path) -> dict[tuple[str, str], list[int]]:
    """(held-out kit, other kit) -> the drum notes they share, for every pair that shares any; a held-out
    SoundFont is compared on its standard kit (the drum bench plays no other), another SoundFont on each of its
    GM_KIT_PROGRAMS."""
    out = {}
    for held_name, held in held_out.items():
        for other_name, other in others.items():
            notes = shared_notes(held, other, cache, GM_KIT_PROGRAMS)
            if notes:
                out[(held_name, other_name)] = notes
    return out
