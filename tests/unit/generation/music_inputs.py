"""Inputs the composer tests share: a picture's features with a left-to-right profile, and music parameters with
a genre's own defaults (its middle tempo, first scale and first programs)."""

from __future__ import annotations

from dataclasses import replace

from soundcanvas.generation.genres import GENRES
from soundcanvas.generation.music import ImageFeatures, MusicParams

Profile = list[float] | float | None


def _profile(value: Profile, default: float, strips: int) -> list[float]:
    if value is None:
        return [default] * strips
    return [float(value)] * strips if isinstance(value, int | float) else list(value)


def features(height: Profile = None, energy: Profile = None, brightness: Profile = None,
             strips: int = 24) -> ImageFeatures:
    """A picture's features; each profile is a list, one value for every strip, or None for a flat middle value."""
    return ImageFeatures(
        width=1024,
        height=768,
        format="JPEG",
        brightness=0.55,
        contrast=0.4,
        saturation=0.5,
        warmth=0.1,
        colorfulness=0.45,
        edge_density=0.3,
        dominant_hues=[30.0, 200.0],
        profile_brightness=_profile(brightness, 0.6, strips),
        profile_height=_profile(height, 0.5, strips),
        profile_energy=_profile(energy, 0.4, strips),
    )


def params(genre: str = "pop", **overrides: object) -> MusicParams:
    g = GENRES[genre]
    base = MusicParams(
        genre=genre,
        tempoBpm=sum(g.tempo_range) // 2,
        key="D",
        scale=g.scales[0],
        mood="bright",
        energy=0.7,
        density=0.6,
        instruments={"bass": g.bass_programs[0], "chords": g.chord_programs[0], "lead": g.lead_programs[0]},
        durationSeconds=30,
        mode="heuristic",
        seed=1234,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
