"""Form per genre: whole 4-bar phrases at any duration and tempo, genre templates, and vertical layering."""

from __future__ import annotations

from io import BytesIO
from itertools import pairwise

import mido
import pytest

from soundcanvas.generation.composition import compose
from soundcanvas.generation.composition.accompaniment import SUSTAINED_PROGRAMS, bass_part, chord_part, lead_rests
from soundcanvas.generation.composition.composer import build_context
from soundcanvas.generation.composition.context import Context, Note
from soundcanvas.generation.composition.drums import drum_part
from soundcanvas.generation.composition.form import BAR, MAX_TEMPO_SHIFT, STEP, STEPS_PER_BAR, TICKS_PER_BEAT, Section, plan
from soundcanvas.generation.composition.forms import layout
from soundcanvas.generation.composition.melody import LEGATO, heuristic_lead
from soundcanvas.generation.composition.motif import REST_FROM
from soundcanvas.generation.genres import GENRES
from tests.unit.generation.music_inputs import features, params

KICKS = frozenset({35, 36})


def context(genre: str, **overrides: object) -> Context:
    p = params(genre, **overrides)
    return build_context(p, features(energy=float(p.energy)))  # type: ignore[arg-type]


def in_section(notes: list[Note], section: Section) -> list[Note]:
    return [n for n in notes if section.start_bar * BAR <= n[0] < section.end_bar * BAR]


# --- phrases ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_sections_are_whole_phrases_at_every_duration_and_tempo(genre: str) -> None:
    for seconds in (10, 15, 22, 30, 45, 60, 97, 180, 333, 600):
        for bpm in (20, 47, 72, 95, 124, 151, 199, 240, 300):
            tl = plan(seconds, bpm, genre)
            assert sum(s.bars for s in tl.sections) == tl.bars
            assert [s.start_bar for s in tl.sections] == [sum(s.bars for s in tl.sections[:i]) for i in
                                                          range(len(tl.sections))]
            if tl.bars >= 4:
                assert all(s.bars and s.bars % 4 == 0 for s in tl.sections), (seconds, bpm, tl.sections)
            else:  # a piece too short for a phrase plays its few bars as one section
                assert len(tl.sections) == 1
            assert abs(60_000_000 / tl.tempo_us / bpm - 1) <= MAX_TEMPO_SHIFT + 1e-3
            # The held final chord: at least about half a bar, and the piece lasts the duration exactly.
            assert tl.end_tick - tl.final_tick >= BAR / 2 - TICKS_PER_BEAT / 8 or tl.bars == 0
            assert mido.tick2second(tl.end_tick, TICKS_PER_BEAT, tl.tempo_us) == pytest.approx(seconds, abs=0.01)
            assert len({s.name for s in tl.sections}) == len(tl.sections), "section names are unique"


def test_the_tempo_stays_exact_when_the_form_already_fits() -> None:
    # 60 s at 120 BPM: 30 bars = 28 bars of form and a two-bar ending would need a change; 29 bars fit exactly.
    tl = plan(58, 120, "pop")  # 29 bars: 28 + a one-bar final chord
    assert tl.tempo_us == 500_000 and tl.bars == 28


def test_the_tempo_moves_a_little_rather_than_holding_a_long_final_chord() -> None:
    tl = plan(60, 124, "house")  # 31 bars at 124 BPM: 28 bars and three held ones otherwise
    assert tl.tempo_us != round(60_000_000 / 124)
    assert (tl.end_tick - tl.final_tick) / BAR < 2


def test_a_short_piece_still_composes_with_a_sensible_form() -> None:
    for genre in GENRES:
        for seconds in (3, 10, 15):
            p = params(genre, durationSeconds=seconds, tempoBpm=60)
            sections = [s for s in context(genre, durationSeconds=seconds, tempoBpm=60).timeline.sections if s.bars]
            assert len(sections) <= 1 and all(not s.frame for s in sections)  # no intro or outro in a few bars
            midi = mido.MidiFile(file=BytesIO(compose(p, features())))
            assert midi.length == pytest.approx(seconds, abs=0.01)


# --- templates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("genre", "seconds", "names"),
    [
        ("pop", 180, {"intro", "verse", "chorus", "verse2", "chorus2", "bridge", "outro"}),
        ("rock", 180, {"intro", "verse", "chorus", "bridge", "outro"}),
        ("house", 120, {"intro", "build", "drop", "breakdown", "drop2", "outro"}),
        ("techno", 120, {"intro", "build", "drop", "breakdown", "drop2", "outro"}),
        ("jazz", 120, {"intro", "head", "solo", "head2", "outro"}),
        ("hiphop", 120, {"intro", "verse", "hook", "verse2", "outro"}),
        ("ambient", 120, {"intro", "drift", "swell", "drift2", "outro"}),
        ("cinematic", 120, {"intro", "theme", "climax", "theme2", "outro"}),
        ("classical", 120, {"intro", "A", "B", "A2", "outro"}),
        ("lofi", 120, {"intro", "A", "B", "A2", "outro"}),
    ],
)
def test_each_genre_has_its_own_form(genre: str, seconds: int, names: set[str]) -> None:
    sections = context(genre, durationSeconds=seconds).timeline.sections
    assert names <= {s.name for s in sections}
    assert sections[0].name == "intro" and sections[-1].name == "outro"


def test_house_drops_are_the_loudest_sections_and_its_breakdown_the_quietest() -> None:
    sections = context("house", durationSeconds=120).timeline.sections
    by_name = {s.name: s for s in sections}
    assert by_name["drop"].intensity == max(s.intensity for s in sections)
    assert by_name["breakdown"].intensity == min(s.intensity for s in sections)
    assert by_name["drop"].material != by_name["breakdown"].material != by_name["build"].material


def test_long_pieces_repeat_the_cycle_instead_of_stretching_sections() -> None:
    sections = layout("techno", 320)
    assert sum(1 for name, *_ in sections if name.startswith("drop")) >= 3
    assert max(bars for *_, bars in sections) <= 24


def test_the_form_is_a_pure_function_of_its_inputs() -> None:
    assert plan(93.5, 117, "rock") == plan(93.5, 117, "rock")
    assert layout("pop", 64) == layout("pop", 64)


# --- layering ---------------------------------------------------------------------------------------


def per_bar(notes: list[Note], section: Section) -> float:
    return len(in_section(notes, section)) / section.bars


def test_a_calm_house_piece_keeps_its_kick_in_every_section_breakdown_included() -> None:
    for seed in (1, 2, 3):
        ctx = context("house", energy=0.0, density=0.1, seed=seed, durationSeconds=120)
        drums = drum_part(ctx)
        for section in ctx.timeline.sections:
            assert any(n[2] in KICKS for n in in_section(drums, section)), (seed, section)


@pytest.mark.parametrize(("genre", "loud", "quiet"), [("house", "drop", "breakdown"), ("techno", "drop", "breakdown"),
                                                      ("pop", "chorus", "verse"), ("hiphop", "hook", "verse")])
def test_layering_plays_more_and_louder_notes_in_the_loud_sections(genre: str, loud: str, quiet: str) -> None:
    ctx = context(genre, durationSeconds=120)
    sections = {s.name: s for s in ctx.timeline.sections}
    parts = {"drums": drum_part(ctx), "bass": bass_part(ctx), "chords": chord_part(ctx, ctx_program(genre))}
    dense = sum(per_bar(notes, sections[loud]) for notes in parts.values())
    sparse = sum(per_bar(notes, sections[quiet]) for notes in parts.values())
    assert dense > 1.2 * sparse

    def loudness(section: Section) -> float:
        notes = [n for part in parts.values() for n in in_section(part, section)]
        return sum(n[3] for n in notes) / section.bars

    assert loudness(sections[loud]) > 1.2 * loudness(sections[quiet])


def ctx_program(genre: str) -> int:
    return GENRES[genre].chord_programs[0]


def test_the_lead_enters_after_the_intro_of_a_dance_piece() -> None:
    ctx = context("house", durationSeconds=90)
    intro = ctx.timeline.sections[0]
    lead = heuristic_lead(ctx)
    assert intro.name == "intro" and min(n[0] for n in lead) >= intro.end_bar * BAR - STEP


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_the_chords_answer_where_the_lead_rests(genre: str) -> None:
    ctx = context(genre, durationSeconds=60)
    lead = heuristic_lead(ctx)
    chords = chord_part(ctx, ctx_program(genre), lead)
    attacks = {n[0] for n in chords}
    rests = lead_rests(ctx, lead)
    assert rests, "a lead that never breathes"
    sustained = ctx_program(genre) in SUSTAINED_PROGRAMS
    for bar, steps in rests.items():
        for step in steps:
            tick = ctx.swing(bar * BAR + step * STEP)
            if sustained:  # pads and strings hold their chord through the rest instead of striking again
                assert any(a <= tick < b for a, b, _, _ in chords), (bar, step)
            else:
                assert any(abs(tick - a) <= 2 * STEP for a in attacks), (bar, step)


@pytest.mark.parametrize("genre", sorted(LEGATO))
def test_a_legato_lead_breathes_briefly(genre: str) -> None:
    ctx = context(genre, durationSeconds=60)
    lead = sorted(heuristic_lead(ctx))
    gaps = [b[0] - a[1] for a, b in pairwise(lead)]
    # never the beat of rest other genres' cadences take, yet still a breath before the next phrase
    assert max(gaps) < (STEPS_PER_BAR - REST_FROM) * STEP
    assert any(gap >= STEP for gap in gaps)
