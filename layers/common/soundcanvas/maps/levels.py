"""Four difficulties made by thinning the transcription: expert is every hit, and each easier level is
chosen from the one above it only, so each is a subset of the next (a player who moves up keeps every
note they learned).

Each step keeps what carries the groove and drops decoration, in this order of what goes first:
soft notes (ghost notes), off-grid sixteenths, then eighths, then the time-keeping cymbals, so that
  hard   = expert without ghost notes (velocity < GHOST_VELOCITY) and without sixteenths of the hi-hat
           and ride (kick, snare and tom sixteenths - fills - stay), at most HARD_PER_BAR notes a bar;
  medium = hard on eighth notes or stronger, hi-hat and ride on beats only, at most two lanes at once,
           at most MEDIUM_PER_BAR notes a bar;
  easy   = medium's kick, snare and toms on beats and crashes on downbeats, one lane at a time,
           at most EASY_PER_BAR notes a bar.
Where a bar has more notes than its cap, the lowest-ranked go (rank: metrical strength, lane, velocity).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from soundcanvas.maps.grid import Grid, GridHit
from soundcanvas.maps.lanes import DIFFICULTIES as DIFFICULTIES  # re-exported: the levels made here
from soundcanvas.maps.lanes import HI_HATS

GHOST_VELOCITY = 0.3
HARD_PER_BAR = 24
MEDIUM_PER_BAR = 12
EASY_PER_BAR = 6
LANE_RANK = {"kick": 3.0, "snare": 3.0, "crash": 2.5, "tom_high": 2.0, "tom_low": 2.0, "hihat_open": 1.5,
             "hihat_closed": 1.0, "ride": 1.0}
TIMEKEEPING = (*HI_HATS, "ride")
GROOVE_LANES = ("kick", "snare", "tom_high", "tom_low")


def metrical_strength(beat: float, grid: Grid) -> int:
    """4 on a downbeat, 3 on a beat, 2 on an eighth, 1 on a sixteenth, 0 elsewhere."""
    if abs(beat - round(beat)) < 1e-6:
        return 4 if (round(beat) - grid.first_downbeat_index) % grid.beats_per_bar == 0 else 3
    if abs(beat * 2 - round(beat * 2)) < 1e-6:
        return 2
    if abs(beat * 4 - round(beat * 4)) < 1e-6:
        return 1
    return 0


def _rank(hit: GridHit, grid: Grid) -> float:
    return metrical_strength(hit.beat, grid) * 2.0 + LANE_RANK.get(hit.lane, 1.0) + hit.velocity


def _thin(hits: Sequence[GridHit], grid: Grid, keep: Callable[[GridHit, int], bool], per_bar: int,
          max_lanes: int) -> list[GridHit]:
    """The hits `keep` accepts (given their metrical strength), then at most `max_lanes` at one moment and
    `per_bar` in a bar, the best-ranked kept."""
    chosen = [h for h in hits if keep(h, metrical_strength(h.beat, grid))]
    by_moment: dict[float, list[GridHit]] = defaultdict(list)
    for hit in chosen:
        by_moment[hit.beat].append(hit)
    chosen = [h for group in by_moment.values()
              for h in sorted(group, key=lambda g: -_rank(g, grid))[:max_lanes]]
    by_bar: dict[int, list[GridHit]] = defaultdict(list)
    for hit in chosen:
        by_bar[int((hit.beat - grid.first_downbeat_index) // grid.beats_per_bar)].append(hit)
    kept = {id(h) for group in by_bar.values() for h in sorted(group, key=lambda g: -_rank(g, grid))[:per_bar]}
    return [h for h in hits if id(h) in kept]


def make_levels(grid_hits: Sequence[GridHit], grid: Grid) -> dict[str, list[GridHit]]:
    """{difficulty: hits} for DIFFICULTIES, every list in the input's order, each a subset of the next."""
    expert = list(grid_hits)
    hard = _thin(expert, grid, lambda h, s: h.velocity >= GHOST_VELOCITY and (s >= 2 or h.lane not in TIMEKEEPING),
                 HARD_PER_BAR, max_lanes=4)
    medium = _thin(hard, grid, lambda h, s: s >= 2 and (s >= 3 or h.lane not in TIMEKEEPING), MEDIUM_PER_BAR,
                   max_lanes=2)
    easy = _thin(medium, grid, lambda h, s: (h.lane in GROOVE_LANES and s >= 3) or (h.lane == "crash" and s == 4),
                 EASY_PER_BAR, max_lanes=1)
    return {"easy": easy, "medium": medium, "hard": hard, "expert": expert}
