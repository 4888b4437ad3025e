"""The data that flows between the workflow's stages, as plain JSON-friendly dataclasses.

Analyze produces ImageFeatures and MusicParams; Compose consumes both; the job record and
`features.json` store them with `to_dict()`. No heavy imports here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class ImageFeatures:
    width: int
    height: int
    format: str  # the sniffed format, e.g. "JPEG", "PNG"
    brightness: float  # 0..1, mean luma
    contrast: float  # 0..1, luma standard deviation scaled
    saturation: float  # 0..1, mean HSV saturation
    warmth: float  # -1 (cool/blue) .. +1 (warm/red-yellow)
    colorfulness: float  # 0..1 (Hasler-Suesstrunk metric, scaled)
    edge_density: float  # 0..1, share of strong gradients (texture / busyness)
    dominant_hues: list[float] = field(default_factory=list)  # degrees 0..360, strongest first (up to 3)
    # Left-to-right profile: for each of N vertical strips, brightness 0..1 and the vertical
    # position of the brightest/most salient mass 0 (bottom) .. 1 (top). The lead melody follows it.
    profile_brightness: list[float] = field(default_factory=list)
    profile_height: list[float] = field(default_factory=list)
    profile_energy: list[float] = field(default_factory=list)  # edge density per strip, 0..1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageFeatures:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class MusicParams:
    genre: str
    tempoBpm: int
    key: str  # one of genres.KEYS
    scale: str  # one of genres.SCALES
    mood: str  # e.g. "bright", "calm", "dark", "melancholic", "energetic", "dreamy"
    energy: float  # 0..1
    density: float  # 0..1, how many notes per bar the parts play
    instruments: dict[str, int]  # part -> GM program: {"bass": 33, "chords": 4, "lead": 80}
    durationSeconds: int
    mode: str  # "heuristic" | "model"
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MusicParams:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
