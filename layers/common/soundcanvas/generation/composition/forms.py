"""Form templates per genre: which sections a piece plays, in which order, how long and how intense.

A template is a head, a cycle repeated as often as the piece has room for, and a tail. Each slot names a
section, its material ("A" the main one, "B" the contrasting one, "C" a third such as a bridge or breakdown),
its intensity (0..1: how many layers play and how loud) and its weight in 4-bar phrases. `layout` turns a
template into sections whose lengths are whole 4-bar phrases (8 bars where the piece allows), numbering
returns ("chorus2", "drop2") so every section name is unique and its material stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PHRASE = 4  # bars per phrase: every section is a whole number of phrases
FRAME = frozenset({"intro", "outro"})  # the frame around the body: the layers thin out there
OPTIONAL = 2.5  # slots kept below this priority are left out of pieces shorter than the template's weights
BODY_MIN = 3  # body sections a piece keeps at least (when it has the phrases): main, contrast, return
RETURN = 3.0  # priority of the main material's return


@dataclass(frozen=True)
class Slot:
    name: str
    material: str  # "A" | "B" | "C"
    intensity: float  # 0..1
    weight: int  # preferred length in phrases
    keep: float  # priority when the piece is too short for every slot: lower is dropped first


@dataclass(frozen=True)
class Template:
    head: tuple[Slot, ...]
    cycle: tuple[Slot, ...]
    tail: tuple[Slot, ...]


def _s(name: str, material: str, intensity: float, weight: int = 2, keep: float = 1) -> Slot:
    return Slot(name, material, intensity, weight, keep)


INTRO = _s("intro", "A", 0.35, 1, keep=3.5)
OUTRO = _s("outro", "A", 0.4, 1, keep=3.5)

TEMPLATES: dict[str, Template] = {
    # Verse/chorus with a bridge before the last chorus.
    "pop": Template(
        (INTRO,),
        (_s("verse", "A", 0.55, keep=4), _s("chorus", "B", 0.95, keep=5)),
        (_s("bridge", "C", 0.7, keep=2.9), _s("chorus", "B", 1.0, keep=3), OUTRO),
    ),
    "rock": Template(
        (INTRO,),
        (_s("verse", "A", 0.6, keep=4), _s("chorus", "B", 1.0, keep=5)),
        (_s("bridge", "C", 0.75, keep=2.9), _s("chorus", "B", 1.0, keep=3), OUTRO),
    ),
    # Intro, build, drop, breakdown, drop, outro (techno plays the same form; see below).
    "house": Template(
        (INTRO, _s("build", "A", 0.6, keep=3)),
        (_s("drop", "B", 1.0, weight=4, keep=5), _s("breakdown", "C", 0.3, keep=3.2), _s("build", "A", 0.65, 1, keep=2)),
        (_s("drop", "B", 1.0, weight=4, keep=4), OUTRO),
    ),
    # Head, solos, head.
    "jazz": Template(
        (INTRO, _s("head", "A", 0.7, keep=5)),
        (_s("solo", "B", 0.85, keep=4),),
        (_s("head", "A", 0.75, keep=RETURN), OUTRO),
    ),
    "hiphop": Template(
        (INTRO,),
        (_s("verse", "A", 0.65, keep=5), _s("hook", "B", 0.95, keep=4)),
        (_s("verse", "A", 0.7, keep=RETURN), OUTRO),
    ),
    "lofi": Template(
        (INTRO,),
        (_s("A", "A", 0.6, keep=5), _s("B", "B", 0.8, keep=4)),
        (_s("A", "A", 0.7, keep=RETURN), OUTRO),
    ),
    "classical": Template(
        (INTRO,),
        (_s("A", "A", 0.6, keep=5), _s("B", "B", 0.85, keep=4)),
        (_s("A", "A", 0.75, keep=RETURN), OUTRO),
    ),
    # Arcs: quiet, rising to a peak, settling.
    "ambient": Template(
        (INTRO, _s("drift", "A", 0.5, keep=5)),
        (_s("swell", "B", 0.8, keep=4), _s("drift", "A", 0.55, keep=3)),
        (OUTRO,),
    ),
    "cinematic": Template(
        (INTRO, _s("theme", "A", 0.5, keep=5)),
        (_s("rise", "B", 0.75, keep=3), _s("climax", "C", 1.0, keep=4)),
        (_s("theme", "A", 0.6, keep=RETURN), OUTRO),
    ),
}
TEMPLATES["techno"] = TEMPLATES["house"]
DEFAULT = TEMPLATES["classical"]


def _without_least(slots: list[Slot], among: Sequence[int]) -> list[Slot]:
    """The slots without the lowest-priority one of `among` (the latest of equals), merging neighbours that
    would then repeat a section."""
    drop = min(among, key=lambda i: (slots[i].keep, -i))
    rest = slots[:drop] + slots[drop + 1 :]
    return [s for i, s in enumerate(rest) if i == 0 or s.name != rest[i - 1].name]


def _slots(template: Template, phrases: int) -> list[Slot]:
    """The template's slots with its cycle repeated to suit `phrases`, the least needed dropped if too many
    (a piece of fewer than four phrases plays no intro or outro)."""
    frame = sum(s.weight for s in template.head + template.tail)
    cycle = sum(s.weight for s in template.cycle)
    repeats = max(1, round((phrases - frame) / cycle)) if cycle else 0
    slots = list(template.head) + list(template.cycle) * repeats + list(template.tail)
    if phrases < 4:
        slots = [s for s in slots if s.name not in FRAME]
    # Optional slots (a second build) go first when the piece is shorter than the template's weights.
    while any(s.keep < OPTIONAL for s in slots) and sum(s.weight for s in slots) > phrases:
        slots = _without_least(slots, range(len(slots)))
    # Body sections of 8 bars where the piece allows: a short piece plays fewer, longer ones (at most
    # two body sections for every three phrases).
    body = phrases - sum(1 for s in slots if s.name in FRAME)
    while sum(1 for s in slots if s.name not in FRAME) > max(BODY_MIN, -(-2 * body // 3)):
        slots = _without_least(slots, [i for i, s in enumerate(slots) if s.name not in FRAME])
    while len(slots) > max(1, phrases):
        slots = _without_least(slots, range(len(slots)))
    return slots


def _lengths(slots: list[Slot], phrases: int) -> list[int]:
    """Phrases per slot: at least one each, the rest shared by weight (whole 8-bar sections first)."""
    total = sum(s.weight for s in slots)
    lengths = [max(1, phrases * s.weight // total) for s in slots]
    while sum(lengths) > phrases:
        i = max((k for k in range(len(slots)) if lengths[k] > 1), key=lambda k: (lengths[k] - slots[k].weight, k))
        lengths[i] -= 1
    while sum(lengths) < phrases:
        i = max(range(len(slots)), key=lambda k: (slots[k].weight * phrases / total - lengths[k], lengths[k] % 2, -k))
        lengths[i] += 1
    return lengths


def layout(genre: str, bars: int) -> list[tuple[str, str, float, int]]:
    """(name, material, intensity, bars) per section for a piece of `bars` bars (a multiple of PHRASE, or a
    short piece's few bars played as one section)."""
    if bars <= 0:
        return []
    if bars < PHRASE or bars % PHRASE:
        return [("A", "A", 0.7, bars)]
    template = TEMPLATES.get(genre, DEFAULT)
    phrases = bars // PHRASE
    slots = _slots(template, phrases)
    seen: dict[str, int] = {}
    out = []
    for slot, length in zip(slots, _lengths(slots, phrases), strict=True):
        count = seen[slot.name] = seen.get(slot.name, 0) + 1
        name = slot.name if count == 1 else f"{slot.name}{count}"
        out.append((name, slot.material, slot.intensity, length * PHRASE))
    return out
