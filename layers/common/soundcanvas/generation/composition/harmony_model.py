"""The harmony model: chord-root transitions between scale degrees, learned offline from the Bach chorales of
the Blend seed catalog (tools/train_harmony_model.py), and the 4-bar progressions model mode walks from them.

The JSON file ships inside this package and is read once per process; nothing is fetched at run time. A walk
is deterministic: it draws only from the random stream it is given.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from importlib import resources
from typing import Any

MODEL_FILE = "harmony_model.json"
MODEL_FORMAT = "soundcanvas-harmony/1"
BARS = 4  # a progression's length: one 4-bar phrase


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    """The packaged model: {"families": {"major"|"minor": {"start": {degree: count}, "next": {degree: {degree:
    count}}, "close": {degree: count}}}, ...} with degrees 0-6 of the parent scale."""
    text = resources.files(__package__).joinpath(MODEL_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("format") != MODEL_FORMAT:
        raise ValueError(f"unexpected harmony model format {data.get('format')!r}")
    return data


def _draw(rng: random.Random, counts: dict[str, int], avoid: frozenset[int] = frozenset()) -> int:
    options = sorted((int(k), v) for k, v in counts.items() if int(k) not in avoid and v > 0)
    if not options:
        options = sorted((int(k), v) for k, v in counts.items() if v > 0) or [(0, 1)]
    return rng.choices([d for d, _ in options], [v for _, v in options])[0]


def walk(rng: random.Random, family: str, index: int) -> tuple[int, ...]:
    """A 4-bar progression of parent-scale degrees: the first material opens on the tonic, the others on a
    degree the chorales often stand on; each next chord follows the learned transitions to a chord not
    played yet, and the last one is a degree the chorales close phrases from."""
    table = load()["families"].get(family) or load()["families"]["major"]
    nxt: dict[str, dict[str, int]] = table["next"]
    degrees = [0 if index == 0 else _draw(rng, table["start"], frozenset({0}))]
    while len(degrees) < BARS - 1:
        # A chord not heard yet in the progression, so its bars differ (a loop of two chords would make the
        # lead repeat itself bar after bar).
        degrees.append(_draw(rng, nxt.get(str(degrees[-1]), table["start"]), frozenset(degrees)))
    closing = {k: v * (1 + nxt.get(str(degrees[-1]), {}).get(k, 0)) for k, v in table["close"].items()}
    degrees.append(_draw(rng, closing, frozenset({degrees[-1]})))
    return tuple(degrees)
