"""The drum map as a JSON document (drum-map.schema.json beside this module, JSON Schema Draft 2020-12).

    {"schemaVersion": 1, "songId": "...", "tempoBpm": 120.0, "offsetSeconds": 0.01, "beatsPerBar": 4,
     "firstDownbeatIndex": 0, "durationSeconds": 180.0, "lanes": ["kick", ...],
     "levels": {"easy": [{"t": 0.51, "t0": 0.503, "lane": "kick", "velocity": 0.9, "beat": 1.0}, ...],
                "medium": [...], "hard": [...], "expert": [...]},
     "source": {...}}                     # optional, free-form (the integrator's provenance)

t is the quantised time and t0 the transcribed one, so a game can snap to the grid or play what was
heard. The schema is the contract for clients; validate_map adds the checks a schema cannot express
(every hit's lane is one of the document's lanes; each level is a subset of the one above) and raises
MapInvalid naming the failing field, e.g. "levels.easy[3].lane: 'cowbell' is not one of the map's lanes".
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from soundcanvas.maps.lanes import DIFFICULTIES, LANES

if TYPE_CHECKING:  # the API functions validate maps without numpy
    from soundcanvas.maps.grid import Grid, GridHit

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("drum-map.schema.json")


class MapInvalid(ValueError):
    """A drum map does not follow the schema; the message starts with the failing field's path."""


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _hit(hit: GridHit) -> dict[str, Any]:
    return {"t": round(float(hit.time_seconds), 4), "t0": round(max(0.0, float(hit.original_seconds)), 4),
            "lane": hit.lane, "velocity": round(min(1.0, max(0.0, float(hit.velocity))), 3),
            "beat": round(float(hit.beat), 4)}


def build_map(*, song_id: str, grid: Grid, levels: Mapping[str, Sequence[GridHit]], lanes: Sequence[str] = LANES,
              source: dict | None = None, duration_seconds: float | None = None) -> dict[str, Any]:
    """The document for `levels` (make_levels' output) on `grid`, validated before it is returned."""
    doc: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "songId": song_id,
        "tempoBpm": round(float(grid.tempo_bpm), 3),
        "offsetSeconds": round(float(grid.offset_seconds), 4),
        "beatsPerBar": int(grid.beats_per_bar),
        "firstDownbeatIndex": int(grid.first_downbeat_index),
        "lanes": list(lanes),
        "levels": {name: [_hit(h) for h in levels.get(name, ())] for name in DIFFICULTIES},
    }
    if duration_seconds is not None:
        doc["durationSeconds"] = round(float(duration_seconds), 3)
    if source is not None:
        doc["source"] = dict(source)
    validate_map(doc)
    return doc


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def validate_map(doc: dict) -> None:
    """Raise MapInvalid naming the first failing field (schema errors in document order, then lanes and
    nesting); return None for a valid map."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        error = errors[0]
        parts = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            parts = [*parts, *missing[:1]]
        raise MapInvalid(f"{_path(parts)}: {error.message}")
    lanes = set(doc["lanes"])
    for name in DIFFICULTIES:
        for index, hit in enumerate(doc["levels"][name]):
            if hit["lane"] not in lanes:
                raise MapInvalid(f"levels.{name}[{index}].lane: {hit['lane']!r} is not one of the map's lanes")
    for easier, harder in itertools.pairwise(DIFFICULTIES):
        above = Counter((h["t"], h["lane"]) for h in doc["levels"][harder])
        for index, hit in enumerate(doc["levels"][easier]):
            key = (hit["t"], hit["lane"])
            if above[key] <= 0:
                raise MapInvalid(f"levels.{easier}[{index}]: not in levels.{harder} "
                                 "(each level is a subset of the one above)")
            above[key] -= 1


def lane_counts(doc_or_levels: Mapping[str, Any]) -> dict[str, int]:
    """Hits per lane of the fullest level ('expert'), from a map document or make_levels' output; every
    lane of LANES (and of the document) is present, zero when unused."""
    levels = doc_or_levels.get("levels", doc_or_levels)
    hits = levels.get("expert", ())
    names = list(doc_or_levels.get("lanes", LANES)) if "levels" in doc_or_levels else list(LANES)
    counts = dict.fromkeys(names, 0)
    for hit in hits:
        lane = hit["lane"] if isinstance(hit, Mapping) else hit.lane
        counts[lane] = counts.get(lane, 0) + 1
    return counts
