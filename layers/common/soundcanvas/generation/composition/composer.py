"""compose(): validate the parameters, plan the form and harmony, write every part, encode the MIDI file."""

from __future__ import annotations

import math
from typing import Any

from soundcanvas.core.errors import CompositionFailed
from soundcanvas.generation.genres import GENRES, KEYS, MODES, SCALES
from soundcanvas.generation.music import ImageFeatures, MusicParams

from . import mix, smf
from .accompaniment import bass_part, chord_part
from .context import Context, Note, chord_plan
from .drums import drum_part
from .form import TICKS_PER_BEAT, Profile, Swing, plan
from .melody import heuristic_lead, model_lead
from .theory import Harmony

PARTS = ("bass", "chords", "lead")
MIN_TEMPO, MAX_TEMPO = 20, 300
MAX_SECONDS = 3600
DRUM_CHANNEL = 9  # General MIDI channel 10
# (track name, channel) per part; volume, pan and effect sends come from mix.py.
TRACKS = {
    "lead": ("Lead", 2),
    "chords": ("Chords", 0),
    "bass": ("Bass", 1),
    "drums": ("Drums", DRUM_CHANNEL),
}


def _unit(value: Any, name: str) -> float:
    """A 0..1 parameter, clamped; NaN counts as the middle."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CompositionFailed(f"The {name} setting must be a number between 0 and 1.")
    return 0.5 if math.isnan(value) else min(1.0, max(0.0, float(value)))


def _validate(params: MusicParams) -> dict[str, int]:
    """Reject parameters no piece can be written from; return the part -> GM program table."""
    if params.genre not in GENRES:
        raise CompositionFailed(f"Unknown genre {params.genre!r}; choose one of {', '.join(GENRES)}.")
    if params.key not in KEYS:
        raise CompositionFailed(f"Unknown key {params.key!r}; choose one of {', '.join(KEYS)}.")
    if params.scale not in SCALES:
        raise CompositionFailed(f"Unknown scale {params.scale!r}; choose one of {', '.join(SCALES)}.")
    if params.mode not in MODES:
        raise CompositionFailed(f"Unknown composition mode {params.mode!r}; choose one of {', '.join(MODES)}.")
    tempo = params.tempoBpm
    if isinstance(tempo, bool) or not isinstance(tempo, int | float) or not MIN_TEMPO <= tempo <= MAX_TEMPO:
        raise CompositionFailed(f"The tempo must be between {MIN_TEMPO} and {MAX_TEMPO} BPM, not {tempo!r}.")
    seconds = params.durationSeconds
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SECONDS:
        raise CompositionFailed(f"The duration must be between 1 and {MAX_SECONDS} seconds, not {seconds!r}.")
    if isinstance(params.seed, bool) or not isinstance(params.seed, int):
        raise CompositionFailed("The composition seed must be a whole number.")
    instruments = params.instruments if isinstance(params.instruments, dict) else {}
    programs = {}
    for part in PARTS:
        program = instruments.get(part)
        if isinstance(program, bool) or not isinstance(program, int) or not 0 <= program <= 127:
            raise CompositionFailed(f"The {part} instrument must be a General MIDI program 0-127, not {program!r}.")
        programs[part] = program
    return programs


def _values(profile: Any) -> list[Any]:
    """A profile as a plain list (any iterable works; a missing profile is empty)."""
    return [] if profile is None else list(profile)


def build_context(params: MusicParams, features: ImageFeatures) -> Context:
    """Resolve validated parameters and the picture's profile into everything the part writers read."""
    genre = GENRES[params.genre]
    harmony = Harmony(params.key, params.scale)
    timeline = plan(float(params.durationSeconds), round(params.tempoBpm), genre.name)
    profile = Profile(
        _values(features.profile_height),
        _values(features.profile_energy),
        _values(features.profile_brightness),
        features.brightness,
    )
    seed = params.seed
    return Context(
        genre=genre,
        harmony=harmony,
        timeline=timeline,
        profile=profile,
        swing=Swing(genre.swing),
        chords=chord_plan(genre, harmony, timeline, Context.stream(seed, "harmony"), params.mode),
        energy=_unit(params.energy, "energy"),
        density=_unit(params.density, "density"),
        seed=seed,
    )


def compose(params: MusicParams, features: ImageFeatures) -> bytes:
    """A type-1 General MIDI file lasting params.durationSeconds: conductor, lead, chords, bass, drums.

    Deterministic: the same parameters and features give byte-identical output.
    Raises CompositionFailed when the parameters cannot make a piece (unknown genre, key, scale...).
    """
    programs = _validate(params)
    ctx = build_context(params, features)
    lead_program = programs["lead"]
    lead = model_lead(ctx, program=lead_program) if params.mode == "model" else heuristic_lead(ctx, program=lead_program)
    parts: list[tuple[str, list[Note], int | None]] = [
        ("lead", lead, programs["lead"]),
        ("chords", chord_part(ctx, programs["chords"], lead), programs["chords"]),
        ("bass", bass_part(ctx, lead), programs["bass"]),
    ]
    drums = drum_part(ctx)
    if drums:
        parts.append(("drums", drums, None))

    end = ctx.timeline.end_tick
    levels = mix.volumes(ctx.genre.name, {part: program for part, _, program in parts})
    conductor = [smf.track_name("SoundCanvas"), smf.time_signature(4, 4), smf.tempo(ctx.timeline.tempo_us)]
    tracks = [smf.encode_track(conductor, [], end)]
    for part, notes, program in parts:
        name, channel = TRACKS[part]
        setup = [smf.track_name(name)]
        if program is not None:
            setup.append(smf.program_change(channel, program))
        controls = mix.controllers(ctx.genre.name, part, program, levels[part])
        setup += [smf.control_change(channel, cc, value) for cc, value in controls]
        tracks.append(smf.encode_track(setup, smf.note_events(notes, channel, end), end))
    return smf.encode_file(tracks, TICKS_PER_BEAT)
