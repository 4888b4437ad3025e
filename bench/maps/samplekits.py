"""Drum grooves played on sampled drum kits (Hydrogen's kit format: recorded hits in a folder, described by
drumkit.xml), for the drum bench: real drums beside the GM SoundFonts.

    render_drums(groove, kit)   # mono float32 at drums.SAMPLE_RATE_HZ, `groove.duration_seconds` long

The kits are recordings of acoustic drum kits from Debian's `hydrogen-drumkits` package (installed by
`make bench-deps`; GMRockKit, kept for a test, comes with it in `hydrogen-data`). They are GPL- or
share-alike-licensed, so they are only played for evaluation (the drum bench's "recorded kits" held-out split, and
its "validation" split where model changes are chosen): nothing in the model is learned from them, and no audio of
them is shipped.

A hit plays the layer whose velocity range holds the note's velocity (or the kit's one sample), scaled by
velocity / 127 and by the instrument's and layer's gains, as Hydrogen plays its kits; an open
hi-hat still ringing is cut (10 ms fade) by the next closed or pedal hi-hat, as a real hi-hat is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile
from scipy.signal import resample_poly

from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ

if TYPE_CHECKING:  # grooves imports this module
    from bench.maps.grooves import Groove

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
CHOKE_FADE_SECONDS = 0.01
CHOKED_BY = {46: (42, 44)}  # an open hat (46) stops at the next closed (42) or pedal (44) hat


@dataclass(frozen=True, eq=False)  # compared and hashed as the one object each kit is
class SampleKit:
    """A Hydrogen kit folder, its licence and Debian package, and which of its instruments plays each GM drum note
    (by instrument name)."""

    name: str
    folder: str
    package: str
    licence: str
    notes: dict[int, str]

    @property
    def path(self) -> Path:
        return HYDROGEN_DIR / self.folder

    @property
    def stem(self) -> str:
        return self.name


# GM drum note -> instrument, for every note of soundcanvas.maps.drums.GM_NOTE_TO_LANE
BLACK_PEARL = SampleKit(
    "BlackPearl", "The Black Pearl 1.0", "hydrogen-drumkits", "GPL-2 (evaluation only)", {
        35: "Pearl Kick", 36: "Pearl Kick", 37: "Pearl Side Stick", 38: "Pearl Snare", 39: "Hand Clap",
        40: "Pearl Snare Rimshot", 42: "Sabian Hat Closed", 44: "Sabian Hat Pedal", 46: "Sabian Hat Open",
        41: "Pearl Tom Floor", 43: "Pearl Tom Floor", 45: "Pearl Tom 2", 47: "Pearl Tom 2", 48: "Pearl Tom 1",
        50: "Pearl Tom 1", 49: "Sabian Crash", 52: "Sabian Crash", 55: "Zildjian Splash", 57: "Sabian Crash",
        51: "Paiste Ride", 53: "Paiste Bell", 59: "Paiste Ride",
    })
COLOMBO = SampleKit(
    "Colombo", "ColomboAcousticDrumkit", "hydrogen-drumkits", "GPL-2+ (evaluation only)", {
        35: "BassDrum", 36: "BassDrum", 37: "Stick", 38: "Snare Rock", 39: "Stick", 40: "Snare1",
        42: "Closed HH", 44: "Pedal HH", 46: "Open HH", 41: "Tom Low", 43: "Tom Low", 45: "Tom Mid", 47: "Tom Mid",
        48: "Tom Hi", 50: "Tom Hi", 49: "crash16inch", 52: "crash20inch--2", 55: "crash16inch", 57: "crash20inch--2",
        51: "ride-crash20inch", 53: "ride-cup", 59: "ride-crash20inch",
    })
KITS = (BLACK_PEARL, COLOMBO)
# validation kits: recorded kits outside both held-out splits, on which model changes are chosen (the drum bench's
# "validation" split); evaluation only, like the held-out ones. GMRockKit was one before a change on 2026-12-01: it
# plays the same recordings as BLACK_PEARL (bench/maps/overlap.py found it), so it is kept only to show that check at
# work.
GM_ROCK = SampleKit(
    "GMRockKit", "GMRockKit", "hydrogen-data", "GPL (evaluation only)", {
        35: "Kick", 36: "Kick", 37: "Stick", 38: "Snare", 39: "Hand Clap", 40: "Snare Rimshot", 42: "Hat Closed",
        44: "Hat Pedal", 46: "Hat Open", 41: "Floor Tom", 43: "Floor Tom", 45: "Tom 2", 47: "Tom 2", 48: "Tom 1",
        50: "Tom 1", 49: "Crash", 52: "Crash", 55: "Splash", 57: "Crash", 51: "Ride", 53: "Bell", 59: "Ride 2",
    })
MILLO = SampleKit(
    "Millo3", "Millo_MultiLayered3", "hydrogen-drumkits", "GPL-2 (evaluation only)", {
        35: "Kick", 36: "Kick", 37: "Stick", 38: "Snare Rock", 39: "Stick", 40: "Snare Rock", 42: "Closed HH",
        44: "Pedal HH", 46: "Open HH", 41: "Tom Low", 43: "Tom Low", 45: "Tom Low", 47: "Tom Mid", 48: "Tom Mid",
        50: "Tom Hi", 49: "Crash", 52: "Crash", 55: "Crash", 57: "Crash", 51: "Ride Jazz", 53: "Ride Jazz",
        59: "Ride Jazz",
    })
BJA_PACIFIC = SampleKit(
    "BJAPacific", "BJA_Pacific", "hydrogen-drumkits", "CC-BY-SA-3.0-us (evaluation only)", {
        35: "BassDrum", 36: "BassDrum", 37: "Snare Dry", 38: "Snare", 39: "Snare Dry", 40: "Snare",
        42: "Hi Hat Closed", 44: "Hi Hat Closed", 46: "Hi Hat Opened", 41: "Floor Tom", 43: "Floor Tom",
        45: "Floor Tom", 47: "Tom", 48: "Tom", 50: "Tom", 49: "Crash Left", 52: "Crash Right", 55: "Crash Right",
        57: "Crash Left", 51: "Ride", 53: "Ride Bell", 59: "Ride 2",
    })
FORZEE = SampleKit(
    "Forzee", "ForzeeStereo", "hydrogen-drumkits", "GPL-2 (evaluation only)", {
        35: 'Kick (Tama Superstar 22")', 36: 'Kick (Tama Superstar 22")',
        37: "Rim Click (Pearl Free Floating Maple 14x3.5)", 38: "Snare (Pearl Free Floating Maple 14x3.5)",
        39: "Snare 2 Rimshot (Pearl Free Floating Maple 14x3.5)", 40: "Snare Rimshot (Pearl Free Floating Maple 14x3.5)",
        42: 'Hi-Hat Closed (Paiste Alpha Metal edge 14")', 44: 'Hi-Hat Pedal (Paiste Alpha Metal edge 14")',
        46: 'Hi-Hat Open (Paiste Alpha Metal edge 14")', 41: 'Tom Low (Tama Superstar 16")',
        43: 'Tom Low (Tama Superstar 16")', 45: 'Tom Mid (Tama Superstar 13")', 47: 'Tom Mid (Tama Superstar 13")',
        48: 'Tom High (Tama Superstar 12")', 50: 'Tom High (Tama Superstar 12")', 49: 'Crash (Paiste Rude Thin 18")',
        52: 'China (Paiste Alpha 18")', 55: 'Splash (Paiste Rude 10")', 57: 'Crash/Ride (Paiste Rude Crash/Ride 18")',
        51: 'Ride (Custom, Zagrebin 22")', 53: 'Ride Bell (Custom, Zagrebin 22")', 59: 'Ride Bow (Custom, Zagrebin 22")',
    })
# no GM SoundFont: sf_GMbank, once here, plays the same samples as TimGM6mb (the held-out split) for most drums
VALIDATION_KITS = (MILLO, BJA_PACIFIC, FORZEE)


@dataclass(frozen=True)
class Layer:
    low: float  # velocity range, 0..1
    high: float
    gain: float
    audio: np.ndarray  # mono float32 at SAMPLE_RATE_HZ


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text
    return None


def _read(path: Path) -> np.ndarray:
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE_HZ:
        divisor = int(np.gcd(int(rate), SAMPLE_RATE_HZ))
        mono = resample_poly(mono, SAMPLE_RATE_HZ // divisor, int(rate) // divisor)
    return np.asarray(mono, dtype=np.float32)


@lru_cache(maxsize=8)
def instruments(kit: SampleKit) -> dict[int, tuple[Layer, ...]]:
    """GM note -> the velocity layers of the instrument that plays it."""
    root = ET.parse(kit.path / "drumkit.xml").getroot()  # noqa: S314 - a file of a Debian package
    by_name: dict[str, tuple[Layer, ...]] = {}
    for element in root.iter():
        if _local(element.tag) != "instrument":
            continue
        name = (_child(element, "name") or "").strip()
        volume = float(_child(element, "volume") or 1.0) * float(_child(element, "gain") or 1.0)
        layers = []
        for layer in element.iter():  # a layer may sit in an instrumentComponent (Hydrogen 0.9.7's format)
            if _local(layer.tag) == "layer" and _child(layer, "filename"):
                layers.append(Layer(float(_child(layer, "min") or 0.0), float(_child(layer, "max") or 1.0),
                                    volume * float(_child(layer, "gain") or 1.0),
                                    _read(kit.path / str(_child(layer, "filename")))))
        if not layers and _child(element, "filename"):  # the older format: one sample an instrument
            layers.append(Layer(0.0, 1.0, volume, _read(kit.path / str(_child(element, "filename")))))
        if not layers:
            continue
        by_name[name] = tuple(sorted(layers, key=lambda item: item.low))
    out = {note: by_name[named] for note, named in kit.notes.items() if named in by_name}
    missing = sorted(set(GM_NOTE_TO_LANE) - set(out))
    if missing:
        raise ValueError(f"kit {kit.name} plays no instrument for GM notes {missing}")
    return out


def layer_for(layers: tuple[Layer, ...], velocity: int) -> Layer:
    """The layer whose range holds velocity / 127 (the nearest one where none does)."""
    v = velocity / 127.0
    for layer in layers:
        if layer.low <= v <= layer.high:
            return layer
    return min(layers, key=lambda layer: min(abs(v - layer.low), abs(v - layer.high)))


def render_drums(groove: Groove, kit: SampleKit) -> np.ndarray:
    """The groove's drum notes played on the kit: mono float32, `groove.duration_seconds` long."""
    return play(groove, instruments(kit))


def play(groove: Groove, kit_notes: dict[int, tuple[Layer, ...]]) -> np.ndarray:
    """The groove's drum notes played on the layers of each GM note (`instruments`, or a synthesized kit's)."""
    notes = sorted(groove.drums, key=lambda d: d.time_seconds)
    n = round(groove.duration_seconds * SAMPLE_RATE_HZ)
    out = np.zeros(n, dtype=np.float32)
    fade = max(1, round(CHOKE_FADE_SECONDS * SAMPLE_RATE_HZ))
    for index, hit in enumerate(notes):
        layer = layer_for(kit_notes[hit.note], hit.velocity)
        start = round(hit.time_seconds * SAMPLE_RATE_HZ)
        if start >= n:
            continue
        sound = layer.audio[: n - start] * (layer.gain * hit.velocity / 127.0)
        chokers = CHOKED_BY.get(hit.note)
        if chokers:
            stop = next((round(d.time_seconds * SAMPLE_RATE_HZ) - start for d in notes[index + 1:]
                         if d.note in chokers), None)
            if stop is not None and stop < sound.size:
                sound = sound.copy()
                end = min(sound.size, stop + fade)
                sound[stop:end] *= np.linspace(1.0, 0.0, end - stop, dtype=np.float32)
                sound[end:] = 0.0
        out[start:start + sound.size] += sound
    return out
