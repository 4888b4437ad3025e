"""map_to_params: pictures choose genre, tempo, key, scale and mood; options are validated."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from soundcanvas.generation.analysis import analyze_image
from soundcanvas.generation.genres import GENRES, GM_PROGRAM_NAMES, KEYS, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, SCALES
from soundcanvas.generation.mapping import MOODS, SCALE_BRIGHTNESS, choose_key, map_to_params
from soundcanvas.generation.music import ImageFeatures, MusicParams
from tests import imagegen


def make_features(**overrides: Any) -> ImageFeatures:
    """A middling picture; override what a test is about."""
    values: dict[str, Any] = {
        "width": 1600,
        "height": 1000,
        "format": "JPEG",
        "brightness": 0.5,
        "contrast": 0.35,
        "saturation": 0.4,
        "warmth": 0.0,
        "colorfulness": 0.4,
        "edge_density": 0.12,
        "dominant_hues": [30.0],
        "profile_brightness": [0.5] * 16,
        "profile_height": [0.5] * 16,
        "profile_energy": [0.12] * 16,
    }
    values.update(overrides)
    return ImageFeatures(**values)


# Looks at the corners of the feature space.
DARK_BUSY = make_features(
    brightness=0.12, contrast=0.3, saturation=0.6, warmth=-0.3, colorfulness=0.22, edge_density=0.45, dominant_hues=[228.0]
)
BRIGHT_SOFT = make_features(
    brightness=0.72, contrast=0.1, saturation=0.09, warmth=-0.2, colorfulness=0.06, edge_density=0.0, dominant_hues=[]
)
WARM_SOFT = make_features(
    brightness=0.4, contrast=0.27, saturation=0.5, warmth=0.5, colorfulness=0.5, edge_density=0.03, dominant_hues=[15.0]
)
VIVID = make_features(
    brightness=0.72, contrast=0.4, saturation=0.95, warmth=0.2, colorfulness=0.95, edge_density=0.08, dominant_hues=[125.0]
)
GREY_DRAMATIC = make_features(
    brightness=0.45, contrast=0.85, saturation=0.0, warmth=0.0, colorfulness=0.0, edge_density=0.2, dominant_hues=[]
)


def params(features: ImageFeatures, genre: str | None = None, seed: int = 7, duration: int = 60) -> MusicParams:
    return map_to_params(features, genre=genre, mode="heuristic", duration_seconds=duration, seed=seed)


def scale_light(name: str) -> float:
    return SCALE_BRIGHTNESS[name]


# --- the picture chooses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("features", "allowed"),
    [
        (DARK_BUSY, {"techno"}),
        (BRIGHT_SOFT, {"ambient"}),
        (WARM_SOFT, {"lofi"}),
        (VIVID, {"pop", "house"}),
        (GREY_DRAMATIC, {"cinematic", "classical"}),
    ],
)
def test_genre_follows_the_look(features: ImageFeatures, allowed: set[str]) -> None:
    assert params(features).genre in allowed


def test_genres_spread_over_feature_space() -> None:
    seen = set()
    steps = (0.1, 0.35, 0.6, 0.85)
    for brightness in steps:
        for contrast in steps:
            for colour in steps:
                for warmth in (-0.5, 0.0, 0.5):
                    for edges in (0.0, 0.12, 0.3):
                        seen.add(
                            params(
                                make_features(
                                    brightness=brightness,
                                    contrast=contrast,
                                    colorfulness=colour,
                                    saturation=colour,
                                    warmth=warmth,
                                    edge_density=edges,
                                )
                            ).genre
                        )
    assert seen == set(GENRES)


def test_dark_busy_and_bright_soft_pictures_sound_different() -> None:
    dark, bright = params(DARK_BUSY), params(BRIGHT_SOFT)
    assert dark.genre != bright.genre
    assert dark.tempoBpm > bright.tempoBpm + 30
    assert dark.energy > 0.6 > 0.2 > bright.energy
    assert dark.density > bright.density
    assert scale_light(dark.scale) < 0.5 < scale_light(bright.scale)
    assert dark.mood == "dark"
    assert bright.mood == "calm"


def test_sample_pictures_map_to_different_music() -> None:
    images = Path(__file__).resolve().parents[3] / "events" / "generation" / "images"
    sunset = params(analyze_image((images / "sunset.jpg").read_bytes()))
    night = params(analyze_image((images / "night-city.png").read_bytes()))
    assert sunset.genre != night.genre
    assert night.tempoBpm > sunset.tempoBpm
    assert scale_light(night.scale) < scale_light(sunset.scale)
    assert night.key != sunset.key


def test_test_pictures_map_to_distinct_music() -> None:
    """The imagegen palettes (sunset, night, mist, neon, mono) analysed for real land on different genres."""
    results = {p: params(analyze_image(imagegen.jpeg_bytes(480, 300, p))) for p in imagegen.PALETTES}
    assert len({r.genre for r in results.values()}) == len(imagegen.PALETTES)
    assert results["night"].genre == "techno"
    assert results["mist"].genre == "ambient"
    assert results["night"].tempoBpm > results["mist"].tempoBpm


def test_real_photographs_spread_over_the_energy_range() -> None:
    """The 9 CC0 / public-domain photographs of tests/images/photos (README.md there) through the product's own
    analysis and mapping: the 10th to 90th percentile of their energies spans at least half the range (the
    first weights, 0.5/0.3/0.2 with no gain, gave 0.36), and the motion-blurred clock is calmer than the busy ones."""
    photos = Path(__file__).resolve().parents[2] / "images" / "photos"
    energy = {p.stem: params(analyze_image(p.read_bytes())).energy for p in sorted(photos.glob("*.jpg"))}
    assert len(energy) == 9
    deciles = statistics.quantiles(energy.values(), n=10, method="inclusive")
    assert deciles[-1] - deciles[0] >= 0.5, energy
    assert energy["clock_motion"] < 0.2 < 0.7 < energy["gravel"]
    assert energy["clock_motion"] < energy["astronaut"]


@pytest.mark.parametrize("genre", list(GENRES))
def test_busier_pictures_play_faster_within_the_genre(genre: str) -> None:
    low, high = GENRES[genre].tempo_range
    calm = params(make_features(edge_density=0.0, contrast=0.05, saturation=0.05), genre=genre)
    busy = params(make_features(edge_density=0.5, contrast=0.9, saturation=0.9), genre=genre)
    assert low <= calm.tempoBpm < busy.tempoBpm <= high
    assert calm.tempoBpm - low <= (high - low) * 0.2
    assert high - busy.tempoBpm <= (high - low) * 0.1


@pytest.mark.parametrize(
    ("hue", "key"), [(0.0, "C"), (30.0, "G"), (60.0, "D"), (120.0, "E"), (240.0, "G#"), (300.0, "A#"), (350.0, "C")]
)
def test_key_walks_the_circle_of_fifths_around_the_hue_wheel(hue: float, key: str) -> None:
    assert choose_key(make_features(dominant_hues=[hue, 200.0])) == key
    assert params(make_features(dominant_hues=[hue])).key == key


def test_neighbouring_hues_give_closely_related_keys() -> None:
    """Adjacent 30-degree hue sectors are a fifth apart (7 semitones)."""
    for sector in range(12):
        a = KEYS.index(choose_key(make_features(dominant_hues=[sector * 30.0])))
        b = KEYS.index(choose_key(make_features(dominant_hues=[(sector + 1) * 30.0])))
        assert (b - a) % 12 == 7


def test_grey_pictures_take_their_key_from_brightness() -> None:
    dark = choose_key(make_features(dominant_hues=[], brightness=0.1))
    middle = choose_key(make_features(dominant_hues=[], brightness=0.5))
    bright = choose_key(make_features(dominant_hues=[], brightness=0.9))
    assert middle == "C"
    assert dark in {"F", "A#", "D#", "G#"}  # flat side
    assert bright in {"G", "D", "A", "E"}  # sharp side


@pytest.mark.parametrize("genre", list(GENRES))
def test_light_pictures_get_brighter_scales_than_dark_ones(genre: str) -> None:
    light = params(make_features(brightness=0.9, warmth=0.6, saturation=0.6), genre=genre)
    dark = params(make_features(brightness=0.08, warmth=-0.6, saturation=0.2), genre=genre)
    assert light.scale in GENRES[genre].scales
    assert dark.scale in GENRES[genre].scales
    assert scale_light(light.scale) > scale_light(dark.scale)


def test_pop_is_major_when_bright_and_minor_when_dark() -> None:
    assert params(make_features(brightness=0.85, warmth=0.5, saturation=0.6), genre="pop").scale == "major"
    assert params(make_features(brightness=0.1, warmth=-0.5, saturation=0.3), genre="pop").scale == "minor"


def test_every_scale_has_a_brightness() -> None:
    assert set(SCALE_BRIGHTNESS) == set(SCALES)


# --- instruments and determinism ---------------------------------------------------------------


@pytest.mark.parametrize("genre", list(GENRES))
def test_instruments_come_from_the_genre(genre: str) -> None:
    for seed in range(20):
        chosen = params(make_features(), genre=genre, seed=seed).instruments
        spec = GENRES[genre]
        assert set(chosen) == {"bass", "chords", "lead"}
        assert chosen["bass"] in spec.bass_programs
        assert chosen["chords"] in spec.chord_programs
        assert chosen["lead"] in spec.lead_programs
        assert all(program in GM_PROGRAM_NAMES for program in chosen.values())


def test_the_seed_varies_the_instruments_but_not_the_picture_choices() -> None:
    results = [params(DARK_BUSY, seed=seed) for seed in range(30)]
    assert len({tuple(sorted(p.instruments.items())) for p in results}) > 1
    assert len({(p.genre, p.tempoBpm, p.key, p.scale, p.mood) for p in results}) == 1


def test_mapping_is_deterministic() -> None:
    first = params(VIVID, seed=123456).to_dict()
    assert params(VIVID, seed=123456).to_dict() == first
    assert params(replace(VIVID), seed=123456).to_dict() == first


def test_params_round_trip_through_json() -> None:
    result = params(WARM_SOFT, duration=90, seed=5)
    data = json.loads(json.dumps(result.to_dict()))
    assert MusicParams.from_dict(data) == result
    assert result.durationSeconds == 90
    assert result.seed == 5
    assert result.mode == "heuristic"
    assert result.key in KEYS
    assert result.mood in MOODS
    assert type(result.tempoBpm) is int
    assert 0.0 <= result.energy <= 1.0
    assert 0.0 <= result.density <= 1.0
    assert round(result.energy, 4) == result.energy


def test_model_mode_is_recorded() -> None:
    assert map_to_params(WARM_SOFT, genre=None, mode="model", duration_seconds=60, seed=1).mode == "model"


# --- overrides and validation ------------------------------------------------------------------


def test_genre_override_wins_and_keeps_the_picture_driven_key() -> None:
    auto = params(DARK_BUSY)
    jazz = params(DARK_BUSY, genre="jazz")
    assert auto.genre == "techno"
    assert jazz.genre == "jazz"
    low, high = GENRES["jazz"].tempo_range
    assert low <= jazz.tempoBpm <= high
    assert jazz.key == auto.key
    assert jazz.scale in GENRES["jazz"].scales


def test_unknown_genre_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="unknown genre 'polka'") as info:
        params(WARM_SOFT, genre="polka")
    for name in GENRES:
        assert name in str(info.value)


@pytest.mark.parametrize("duration", [0, MIN_DURATION_SECONDS - 1, MAX_DURATION_SECONDS + 1, -60])
def test_duration_out_of_range_is_refused(duration: int) -> None:
    with pytest.raises(ValueError, match=f"between {MIN_DURATION_SECONDS} and {MAX_DURATION_SECONDS} seconds"):
        params(WARM_SOFT, duration=duration)


@pytest.mark.parametrize("duration", [MIN_DURATION_SECONDS, MAX_DURATION_SECONDS])
def test_duration_limits_are_inclusive(duration: int) -> None:
    assert params(WARM_SOFT, duration=duration).durationSeconds == duration


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode 'magic'"):
        map_to_params(WARM_SOFT, genre=None, mode="magic", duration_seconds=60, seed=1)


def test_non_integer_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        map_to_params(WARM_SOFT, genre=None, mode="heuristic", duration_seconds=60.5, seed=1)  # type: ignore[arg-type]


def test_malformed_features_still_give_valid_params() -> None:
    """Features read back from storage might hold NaN or out-of-range numbers; the mapping clamps them."""
    odd = make_features(
        brightness=math.nan,
        contrast=7.0,
        saturation=-1.0,
        warmth=math.inf,
        colorfulness=2.0,
        edge_density=math.nan,
        dominant_hues=[math.nan, 725.0],
    )
    result = params(odd)
    low, high = GENRES[result.genre].tempo_range
    assert low <= result.tempoBpm <= high
    assert result.key in KEYS
    assert result.scale in GENRES[result.genre].scales
    assert 0.0 <= result.energy <= 1.0
    assert 0.0 <= result.density <= 1.0
