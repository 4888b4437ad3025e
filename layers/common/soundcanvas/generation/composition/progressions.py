"""Genre harmony: each genre's chord vocabulary, its progressions per material and its cadences.

A progression is a tuple of bars; a bar is one chord or a pair (first half, second half). A chord is a
scale degree of the parent seven-note scale (0 = the tonic's chord, a diatonic chord of the piece's own
scale) or a named chromatic chord (`NAMED`: the major dominant in a minor mode, secondary dominants,
chords borrowed from the parallel key), whose notes may leave the scale. Each genre says which named
chords it uses and where: jazz and rock anywhere, the other genres only in a phrase's last bar, where the
lead plays its cadence (from beat 3 a held chord tone, which the lead takes from the chord's own notes in
the scale), so a chromatic note seldom meets its scale neighbour in the lead. Elsewhere a named chord falls
back to its diatonic degree.

Every piece ends with the genre's cadence in its last bar before the final tonic chord: (approach chord of
the first half, cadence chord of the second half), e.g. ii-V(7)-I in jazz, IV-V-I in classical, bVI-bVII-i
in house. Genres that phrase their harmony (classical, cinematic, pop, jazz, lo-fi) close each section on
its dominant (a half cadence) and return to the tonic with the next section.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .form import Timeline
from .theory import Chord, Harmony

PHRASE_BARS = 4  # the lead phrases in 4-bar groups from each section's start

Token = int | str
Bar = Token | tuple[Token, Token]
Progression = tuple[Bar, ...]

# A chromatic chord keeps at least this many notes of the scale, so the lead (which moves in the scale and
# puts its strong beats on chord tones) finds a chord tone near wherever it is.
MIN_SCALE_TONES = 2
DOMINANT7 = (0, 4, 7, 10)
MAJOR = (0, 4, 7)
MINOR = (0, 3, 7)
# Named chords: (semitones of the root above the tonic, intervals above the root, diatonic fallback degree).
NAMED: dict[str, tuple[int, tuple[int, ...], int]] = {
    "V": (7, MAJOR, 4),  # the major dominant (a raised leading tone in minor modes)
    "V7": (7, DOMINANT7, 4),
    "V7/V": (2, DOMINANT7, 1),  # secondary dominants (of V, of ii, of vi in major)
    "V7/ii": (9, DOMINANT7, 5),
    "V7/vi": (4, DOMINANT7, 2),
    "iv": (5, MINOR, 3),  # borrowed from the parallel minor
    "bVII": (10, MAJOR, 6),
    "bII": (1, MAJOR, 1),  # the Neapolitan / Phrygian colour
    "II": (2, MAJOR, 1),  # the Lydian colour
}


@dataclass(frozen=True)
class Style:
    """A genre's harmony for one scale family ("major" or "minor")."""

    pools: dict[str, tuple[Progression, ...]]  # material ("A", "B") -> progressions; other materials use B's
    cadences: tuple[tuple[Token, Token], ...]  # the last bar before the final tonic, in order of preference
    half_cadence: Token | None = None  # the chord closing a section (None: no half cadence)


@dataclass(frozen=True)
class GenreHarmony:
    styles: dict[str, Style]  # scale family -> style
    sevenths: bool = False
    ninths: bool = False  # jazz extensions
    chromatic_anywhere: bool = False  # named chords anywhere (jazz), else only at phrase ends
    named: frozenset[str] = frozenset()  # the named chords the genre uses
    slow: bool = False  # two bars per chord once the piece is long enough


def _style(a: tuple[Progression, ...], b: tuple[Progression, ...], cadences: tuple[tuple[Token, Token], ...],
           half: Token | None = None) -> Style:
    return Style({"A": a, "B": b}, cadences, half)


MINOR_LOOPS = _style(
    ((0, 5, 2, 6), (0, 6, 5, 6), (0, 0, 5, 6), (0, 3, 0, 6)),
    ((5, 6, 0, 0), (3, 5, 6, 6), (5, 2, 6, 0), (3, 3, 6, 6)),
    ((5, 6), (3, 6), (3, 4)),
)
MAJOR_LOOPS = _style(
    ((0, 4, 5, 3), (0, 3, 0, 4), (5, 3, 0, 4)),
    ((3, 4, 5, 5), (5, 3, 4, 4), (3, 0, 3, 4)),
    ((3, 4), (1, 4)),
)

GENRE_HARMONY: dict[str, GenreHarmony] = {
    "house": GenreHarmony({"minor": MINOR_LOOPS, "major": MAJOR_LOOPS}),
    "techno": GenreHarmony({
        "minor": _style(
            ((0, 0, 6, 0), (0, 0, 5, 6), (0, 6, 0, 5), (0, 0, 3, 0), (0, 1, 0, 6)),
            ((5, 6, 5, 6), (3, 3, 6, 6), (5, 5, 0, 6)),
            ((5, 6), (0, 6), (3, 4)),
        ),
        "major": MAJOR_LOOPS,
    }),
    "hiphop": GenreHarmony({
        "minor": _style(
            ((0, 5, 2, 6), (0, 3, 5, 6), (0, 6, 5, 4), (0, 0, 3, 3)),
            ((3, 4, 0, 0), (5, 6, 0, 0), (3, 5, 6, 6)),
            ((3, 6), (5, 6), (3, 4)),
        ),
        "major": MAJOR_LOOPS,
    }, sevenths=True),
    "lofi": GenreHarmony({
        "minor": _style(
            ((1, 4, 0, 0), (0, 3, 6, 2), (0, 5, 1, 4), (3, 6, 2, 5)),
            ((3, 4, 2, 5), (5, 1, 4, 0), (3, 2, 1, 4)),
            ((1, 4), (3, 6)),
            4,
        ),
        "major": _style(
            ((1, 4, 0, 0), (0, 5, 1, 4), (3, 2, 1, 4), (0, 2, 3, 4)),
            ((3, 4, 2, 5), (5, 1, 4, 0), (3, 2, 1, 4)),
            ((1, 4), (3, 4)),
            4,
        ),
    }, sevenths=True),
    "ambient": GenreHarmony({
        "major": _style(((0, 3, 0, 3), (0, 5, 3, 0), (0, 1, 0, 1), (0, 4, 5, 3)),
                        ((5, 3, 0, 4), (3, 5, 1, 0), (5, 1, 3, 3)), ((5, 3), (1, 4), (3, 4))),
        "minor": _style(((0, 3, 0, 3), (0, 5, 3, 0), (0, 6, 5, 3)),
                        ((5, 6, 3, 3), (2, 6, 5, 3), (5, 3, 6, 4)), ((5, 3), (3, 4), (6, 4))),
    }, slow=True),
    "rock": GenreHarmony({
        "major": _style(((0, "bVII", 3, 0), (0, 3, 4, 3), (0, 3, 0, 4), (0, 4, "bVII", 3)),
                        ((3, 4, 0, 0), (5, "bVII", 0, 0), (3, "bVII", 0, 0), (5, 3, 0, 4)),
                        ((3, 4), (0, 3), (3, "bVII"), (5, "bVII"))),
        "minor": _style(((0, 6, 3, 0), (0, 2, 3, 0), (0, 3, 6, 0), (0, 0, 6, 3)),
                        ((3, 6, 0, 0), (5, 6, 3, 3), (2, 3, 6, 6)), ((3, 6), (6, 3), (3, 4))),
    }, chromatic_anywhere=True, named=frozenset({"bVII"})),
    "jazz": GenreHarmony({
        "major": _style(
            ((0, 5, 1, "V7"), (1, "V7", 0, 0), (0, "V7/ii", 1, "V7"), ((2, 5), (1, "V7"), 0, 0)),
            ((3, 3, 2, "V7/ii"), ("V7/V", "V7/V", 1, "V7"), ((2, "V7/ii"), (1, "V7"), 0, 5)),
            ((1, "V7"),),
            "V7",
        ),
        "minor": _style(
            ((0, 3, 1, "V7"), (1, "V7", 0, 0), (0, 0, 3, "V7"), ((0, 3), (1, "V7"), 0, 0)),
            ((3, 3, 0, 0), (3, 6, 2, 5), ((2, 5), (1, "V7"), 0, 3)),
            ((1, "V7"),),
            "V7",
        ),
    }, sevenths=True, ninths=True, chromatic_anywhere=True, named=frozenset(NAMED)),
    "classical": GenreHarmony({
        "major": _style(((0, 3, 1, 4), (0, 5, 1, ("V7/V", 4)), (0, 3, 0, ("V7/V", 4)), (0, 1, 3, 4)),
                        ((5, 1, 3, ("V7/V", 4)), (3, 4, 2, ("V7/vi", 5)), (5, 3, 1, 4)),
                        (("V7/V", 4), (3, 4), (1, 4)), 4),
        "minor": _style(((0, 3, "V", 0), (0, 5, 3, "V"), (0, 3, 0, "V")),
                        ((2, 5, 3, "V"), (5, 3, 0, "V"), (2, 6, 2, "V")), ((3, "V"), (5, "V")), "V"),
    }, named=frozenset({"V", "V7/V", "V7/ii", "V7/vi"})),
    "pop": GenreHarmony({
        "major": _style(((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 5, 4)),
                        ((3, 4, 5, 5), (3, 0, 4, 5), (5, 3, 0, (3, "iv")), (3, 4, 2, (5, "V7/V"))),
                        ((3, 4), (5, 3), (3, "iv"), ("V7/V", 4)), 4),
        "minor": _style(((0, 5, 2, 6), (0, 3, 5, 6), (0, 5, 3, 4)),
                        ((5, 6, 0, 0), (3, 4, 5, 5), (5, 2, 6, (3, "V"))), ((3, 4), (5, 3)), 4),
    }, named=frozenset({"iv", "V7/V", "V", "bVII"})),
    "cinematic": GenreHarmony({
        "minor": _style(((0, 5, 2, 6), (0, 3, 5, "V"), (0, 5, 3, "V")),
                        ((5, 2, 6, 0), (3, 5, 3, ("bII", "V")), (5, 3, 0, "V")), ((3, "V"), (5, 3)), "V"),
        "major": _style(((0, 1, 0, 1), (0, 4, 1, 0), (0, 5, 3, "iv")),
                        ((5, 1, 4, 0), (3, "iv", 0, 0), (5, 3, 4, "bVII")), ((3, 4), (5, 4), ("iv", 4)), 4),
    }, named=frozenset({"V", "bVII", "iv", "bII"}), slow=True),
}
DEFAULT_HARMONY = GENRE_HARMONY["pop"]


def genre_harmony(name: str) -> GenreHarmony:
    return GENRE_HARMONY.get(name, DEFAULT_HARMONY)


def family(offsets: tuple[int, ...]) -> str:
    """"minor" for a scale with a minor third above its tonic, else "major"."""
    return "minor" if 3 in offsets and 4 not in offsets else "major"


def split(bar: Bar) -> tuple[Token, Token]:
    """A bar's (first half, second half) chords."""
    return bar if isinstance(bar, tuple) else (bar, bar)


# Root motions into the final tonic each genre closes with, by the semitones the approach chord's root sits
# above the tonic: the dominant everywhere, the plagal IV in rock, pop, ambient and cinematic, the modal bVII
# in rock and the minor-loop genres.
CADENCE_MOTIONS: dict[str, frozenset[int]] = {
    "house": frozenset({7, 10}), "techno": frozenset({7, 10}), "hiphop": frozenset({7, 10}),
    "lofi": frozenset({7, 10}), "ambient": frozenset({7, 5}), "rock": frozenset({7, 5, 10}),
    "jazz": frozenset({7}), "classical": frozenset({7}), "pop": frozenset({7, 5}), "cinematic": frozenset({7, 5}),
}


def phrase_ends(timeline: Timeline) -> frozenset[int]:
    """The last bar of every 4-bar phrase (counted from its section's start) and of every section."""
    ends = set()
    for section in timeline.sections:
        for bar in range(section.start_bar, section.end_bar):
            if (bar - section.start_bar) % PHRASE_BARS == PHRASE_BARS - 1 or bar == section.end_bar - 1:
                ends.add(bar)
    return frozenset(ends)


class ChordMaker:
    """Tokens -> chords of one piece: diatonic chords of its scale, named chords where allowed."""

    def __init__(self, harmony: Harmony, spec: GenreHarmony) -> None:
        self.harmony = harmony
        self.spec = spec
        self._cache: dict[tuple[Token, bool], Chord] = {}

    def __call__(self, token: Token, named_ok: bool) -> Chord:
        key = (token, named_ok)
        if key not in self._cache:
            self._cache[key] = self._make(token, named_ok)
        return self._cache[key]

    def _make(self, token: Token, named_ok: bool) -> Chord:
        spec, harmony = self.spec, self.harmony
        if isinstance(token, str):
            root, intervals, fallback = NAMED[token]
            if named_ok and token in spec.named:
                if spec.sevenths and intervals == MAJOR:
                    intervals = DOMINANT7 if root == 7 else intervals
                chord = harmony.named_chord(root, intervals, fallback, spec.ninths)
                if sum(pc in harmony.pcs for pc in chord.pcs) >= MIN_SCALE_TONES:
                    return chord
            token = fallback
        return self._diatonic(token)

    def _diatonic(self, degree: int) -> Chord:
        harmony = self.harmony
        chord = harmony.chord(harmony.parent_degree(degree), self.spec.sevenths)
        if chord.diminished and not self.spec.ninths:
            # A diminished chord stands in for the chord a third below (two notes in common), else the tonic.
            chord = harmony.chord(harmony.parent_degree(degree - 2), self.spec.sevenths)
            if chord.diminished:
                chord = harmony.chord(0, self.spec.sevenths)
        if self.spec.ninths and harmony.size == 7 and not chord.diminished:
            chord = Chord(chord.degree, (*chord.pcs, harmony.degree_pc(chord.degree + 1)))
        return chord


def cadence(maker: ChordMaker, style: Style, motions: frozenset[int], rng: random.Random) -> tuple[Chord, Chord]:
    """The last bar before the final tonic: one of the style's cadences whose approach chord moves to the
    tonic by one of the genre's motions (the major dominant when none does)."""
    tonic = maker.harmony.tonic
    options = []
    for pre, approach in style.cadences:
        chord = maker(approach, True)
        if (chord.root - tonic) % 12 in motions and not chord.diminished:
            options.append((maker(pre, True), chord))
    return rng.choice(options) if options else (maker(3, False), maker.harmony.named_chord(7, MAJOR, 4))


def coloured(progression: tuple[int, ...], spec: GenreHarmony) -> Progression:
    """A learned progression in the genre's colours: a closing dominant becomes the genre's own (a dominant
    seventh in jazz, the major dominant where the genre uses it) in the second half of its bar."""
    named = next((n for n in ("V7", "V") if n in spec.named), None)
    if named is None or progression[-1] != 4:
        return progression
    return (*progression[:-1], (4, named))


def plan(spec: GenreHarmony, style: Style, maker: ChordMaker, timeline: Timeline,
         progressions: dict[str, Progression], motions: frozenset[int], rng: random.Random) -> tuple[Chord, ...]:
    """One chord per bar (with its second-half chord when the harmony moves mid-bar), then the final tonic."""
    slow = 2 if spec.slow and timeline.bars >= 16 else 1
    ends = phrase_ends(timeline)
    last_body = timeline.bars - 1
    chords: list[Chord] = []
    for bar in range(timeline.bars):
        section = timeline.section_at(bar)
        prog = progressions.get(section.material) or progressions["A"]
        rel = bar - section.start_bar
        first, second = split(prog[(rel // slow) % len(prog)])
        if slow == 2:
            first = second = first if rel % 2 == 0 else second
        if bar == section.end_bar - 1 and style.half_cadence is not None and bar < last_body:
            second = style.half_cadence
        anywhere = spec.chromatic_anywhere
        here = anywhere or bar in ends
        chord = maker(first, here).with_second(maker(second, here))
        chords.append(chord)
    if chords:
        pre, approach = cadence(maker, style, motions, rng)
        chords[-1] = pre.with_second(approach)
    chords.append(maker(0, False))
    return tuple(chords)
