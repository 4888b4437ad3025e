"""Map a picture's features to musical parameters: genre, tempo, key, scale, mood, instruments.

Pure Python and deterministic: the same features, options and seed always give the same
parameters. The picture decides everything except the instrument pick, which the seed varies.

- Genre: the nearest of ten prototype "looks" (brightness, contrast, colourfulness, warmth,
  busyness), unless the request names one.
- Energy (edge density, contrast, saturation) places the tempo inside the genre's range.
- Key: the dominant hue walks the circle of fifths around the colour wheel (red C, orange G,
  yellow D, ... blue G#, magenta A#); a grey picture's key follows its brightness instead.
- Scale: the genre's scale whose modal brightness best matches the picture's light.
"""

from __future__ import annotations

import math
import random

from soundcanvas.generation.genres import GENRES, KEYS, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, MODES, Genre
from soundcanvas.generation.music import ImageFeatures, MusicParams

# Prototype looks: (brightness, contrast, colourfulness, warmth 0 cool..1 warm, busyness).
GENRE_PROTOTYPES: dict[str, tuple[float, float, float, float, float]] = {
    "ambient": (0.65, 0.15, 0.20, 0.45, 0.05),  # pale, soft, quiet
    "lofi": (0.45, 0.25, 0.40, 0.75, 0.15),  # warm and soft
    "jazz": (0.30, 0.40, 0.45, 0.70, 0.35),  # dim, warm, some detail
    "hiphop": (0.30, 0.45, 0.35, 0.55, 0.65),  # gritty, urban
    "techno": (0.15, 0.35, 0.25, 0.35, 0.90),  # dark, cool, very busy
    "house": (0.45, 0.40, 0.75, 0.40, 0.65),  # colourful and busy
    "pop": (0.70, 0.40, 0.80, 0.60, 0.30),  # bright and very colourful
    "rock": (0.45, 0.65, 0.50, 0.60, 0.85),  # hard contrast, busy
    "classical": (0.65, 0.45, 0.10, 0.50, 0.30),  # light, muted colour, composed
    "cinematic": (0.25, 0.70, 0.15, 0.40, 0.45),  # dark, dramatic contrast
}
_FEATURE_WEIGHTS = (1.2, 1.0, 1.0, 0.8, 1.0)

BUSY_EDGE_DENSITY = 0.35  # an edge density at which a picture counts as fully busy
# Energy = ENERGY_GAIN x (0.5 busyness + 0.3 contrast + 0.2 saturation), capped at 1. The gain stretches the
# first weights (which left real photographs bunched in the middle) so typical pictures use the range: on the
# 9 photographs of tests/images/photos/ the 10th-90th percentile span goes from 0.36 to 0.55, the calm-to-busy
# order unchanged (docs/generation.md, "The mapping").
ENERGY_WEIGHTS = (0.5, 0.3, 0.2)  # busyness, contrast, saturation
ENERGY_GAIN = 1.55

# Modal brightness, brightest first: lydian raises the 4th, phrygian lowers the 2nd.
SCALE_BRIGHTNESS: dict[str, float] = {
    "lydian": 1.0,
    "major": 0.85,
    "major_pentatonic": 0.8,
    "mixolydian": 0.65,
    "dorian": 0.5,
    "minor_pentatonic": 0.4,
    "minor": 0.3,
    "harmonic_minor": 0.2,
    "phrygian": 0.1,
}
_TYPICAL_SCALE_BIAS = 0.08  # per position in the genre's list: a near tie goes to the more typical scale

MOODS: tuple[str, ...] = (
    "dark",
    "melancholic",
    "energetic",
    "dramatic",
    "bright",
    "dreamy",
    "calm",
    "warm",
    "mysterious",
    "playful",
    "reflective",
)


def map_to_params(features: ImageFeatures, *, genre: str | None, mode: str, duration_seconds: int, seed: int) -> MusicParams:
    """Musical parameters for a picture; `genre=None` lets the picture choose. Raises ValueError on bad options."""
    if genre is not None and genre not in GENRES:
        raise ValueError(f"unknown genre {genre!r}; choose one of: {', '.join(GENRES)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int):
        raise ValueError(f"duration must be a whole number of seconds, got {duration_seconds!r}")
    if not MIN_DURATION_SECONDS <= duration_seconds <= MAX_DURATION_SECONDS:
        raise ValueError(
            f"duration must be between {MIN_DURATION_SECONDS} and {MAX_DURATION_SECONDS} seconds, got {duration_seconds}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")

    look = _look(features)
    chosen = GENRES[genre] if genre is not None else GENRES[choose_genre(features)]
    energy = _energy(features)
    light = _light(features)
    low, high = chosen.tempo_range
    return MusicParams(
        genre=chosen.name,
        tempoBpm=math.floor(low + (high - low) * energy + 0.5),
        key=choose_key(features),
        scale=_choose_scale(chosen, light),
        mood=_mood(light=light, energy=energy, look=look, warmth=_clamp(features.warmth, -1.0, 1.0, 0.0)),
        energy=round(energy, 4),
        density=round(_density(look), 4),
        instruments=_instruments(chosen, seed),
        durationSeconds=duration_seconds,
        mode=mode,
        seed=seed,
    )


def choose_genre(features: ImageFeatures) -> str:
    """The genre whose prototype look is nearest the picture's (ties go to the earlier prototype)."""
    look = _look(features)

    def distance(name: str) -> float:
        proto = GENRE_PROTOTYPES[name]
        return sum(w * (a - b) ** 2 for w, a, b in zip(_FEATURE_WEIGHTS, look, proto, strict=True))

    return min(GENRE_PROTOTYPES, key=distance)


def choose_key(features: ImageFeatures) -> str:
    """Key from the dominant hue (12 hue sectors of 30 degrees on the circle of fifths from C at red)."""
    hues = [h for h in features.dominant_hues if _finite(h)]
    # With no colour to go by, bright pictures lean to the sharp side of C and dark ones to the flat side.
    grey_steps = round((_clamp(features.brightness, 0.0, 1.0, 0.5) - 0.5) * 8)
    steps = round((hues[0] % 360.0) / 30.0) % 12 if hues else grey_steps
    return KEYS[(steps * 7) % 12]


# --- derived measures --------------------------------------------------------------------------


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _clamp(value: float, low: float, high: float, default: float) -> float:
    """`value` limited to low..high; `default` when it is missing or not a finite number."""
    if not _finite(value):
        return default
    return min(high, max(low, float(value)))


def _look(features: ImageFeatures) -> tuple[float, float, float, float, float]:
    """(brightness, contrast, colourfulness, warmth 0..1, busyness), each 0..1."""
    return (
        _clamp(features.brightness, 0.0, 1.0, 0.5),
        _clamp(features.contrast, 0.0, 1.0, 0.3),
        _clamp(features.colorfulness, 0.0, 1.0, 0.3),
        (_clamp(features.warmth, -1.0, 1.0, 0.0) + 1.0) / 2.0,
        _clamp(features.edge_density / BUSY_EDGE_DENSITY if _finite(features.edge_density) else math.nan, 0.0, 1.0, 0.3),
    )


def _energy(features: ImageFeatures) -> float:
    """0..1: busy, contrasty, saturated pictures are energetic."""
    _, contrast, _, _, busy = _look(features)
    saturation = _clamp(features.saturation, 0.0, 1.0, 0.3)
    w_busy, w_contrast, w_saturation = ENERGY_WEIGHTS
    return min(1.0, ENERGY_GAIN * (w_busy * busy + w_contrast * contrast + w_saturation * saturation))


def _light(features: ImageFeatures) -> float:
    """0..1: how bright and warm the picture reads (drives the scale and mood)."""
    brightness, _, _, warm, _ = _look(features)
    saturation = _clamp(features.saturation, 0.0, 1.0, 0.3)
    raw = 0.55 * brightness + 0.3 * warm + 0.15 * saturation
    return _clamp((raw - 0.2) / 0.5, 0.0, 1.0, 0.5)


def _density(look: tuple[float, float, float, float, float]) -> float:
    """0..1: busy, colourful pictures get more notes per bar."""
    _, contrast, colour, _, busy = look
    return min(1.0, 0.15 + 0.55 * busy + 0.2 * colour + 0.1 * contrast)


def _choose_scale(genre: Genre, light: float) -> str:
    """The genre's scale whose modal brightness is nearest the picture's light."""
    ranked = [
        (abs(SCALE_BRIGHTNESS.get(name, 0.5) - light) + _TYPICAL_SCALE_BIAS * i, i, name)
        for i, name in enumerate(genre.scales)
    ]
    return min(ranked)[2]


def _mood(*, light: float, energy: float, look: tuple[float, float, float, float, float], warmth: float) -> str:
    """One word for the feel of the picture (one of MOODS)."""
    _, contrast, colour, _, _ = look
    if light < 0.3:
        return "dark" if energy >= 0.35 else "melancholic"
    if energy >= 0.65:
        return "energetic"
    if contrast >= 0.6:
        return "dramatic"
    if light >= 0.65 and energy >= 0.3:
        return "bright"
    if energy < 0.3:
        if light >= 0.5:
            return "dreamy" if colour >= 0.3 else "calm"
        return "mysterious"
    if warmth >= 0.3:
        return "warm"
    return "playful" if colour >= 0.5 else "reflective"


def _instruments(genre: Genre, seed: int) -> dict[str, int]:
    """A GM program per part from the genre's choices; the seed picks among them."""
    rng = random.Random(seed)
    return {
        "bass": rng.choice(genre.bass_programs),
        "chords": rng.choice(genre.chord_programs),
        "lead": rng.choice(genre.lead_programs),
    }
