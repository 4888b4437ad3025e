"""Drum grooves written here with mido, so every hit is known exactly, then rendered with the FluidSynth CLI.

    groove(seed, style=None, tempo_bpm=None, seconds=20.0)   # deterministic from its arguments
    render_groove(g, soundfont, cache_dir, mix=False)          # mono float32 at drums.SAMPLE_RATE_HZ

Styles (4/4, sixteenth-note grid, a fill in the last bar of every four-bar phrase, a crash on the
downbeat after it):
- rock: kick on 1 and 3 (with pickups), snare on 2 and 4, closed hi-hat eighths, an open hat now and then
- funk: syncopated kick, snare 2 and 4 with ghost notes, sixteenth hats with accents
- hiphop: a swung, syncopated kick, snare on 2 and 4, eighth or sixteenth hats
- house: four-on-the-floor kick, snare on 2 and 4, open hat on the off-beats, closed sixteenths
- jazz: ride "spang-a-lang" (swung), hi-hat pedal on 2 and 4, feathered kick, sparse snare comping

Ground truth: each hit's time after the humanising jitter, mapped to a lane with drums.GM_NOTE_TO_LANE
(35/36 kick, 38/40 snare, 42/44 closed hat, 46 open hat, 47/48/50 high toms, 41/43/45 low toms,
49/57 crash, 51/59 ride); two hits of one lane within 30 ms count once.
The optional band (`mix=True`) is a finger bass (GM 33) on the roots and a piano (GM 0) comping in a
key chosen by the seed; it is rendered as its own stem and summed, so the drum stem is shared.
Everything here is ours: MIDI written by this module, audio rendered with Debian's SoundFonts
(FluidR3_GM, MIT; TimGM6mb, GPL-2) for tuning and evaluation only, or played on recorded drum kits
(bench/maps/samplekits.py, GPL, for evaluation only).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import mido
import numpy as np
import soundfile

from bench.maps import samplekits
from bench.maps.samplekits import SampleKit
from bench.maps.synthkits import SynthKit
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, LANES, SAMPLE_RATE_HZ

STYLES = ("rock", "funk", "hiphop", "house", "jazz")
STYLE_TEMPO_BPM = {"rock": (90, 180), "funk": (88, 124), "hiphop": (70, 100), "house": (118, 132), "jazz": (110, 180)}
SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
FLUIDR3 = SOUNDFONT_DIR / "FluidR3_GM.sf2"
TIMGM = SOUNDFONT_DIR / "TimGM6mb.sf2"
MUSESCORE = SOUNDFONT_DIR / "MuseScore_General_Full.sf2"
GMBANK = SOUNDFONT_DIR / "sf_GMbank.sf2"
TICKS_PER_QUARTER = 480
DRUM_CHANNEL = 9
RENDER_GAIN = 0.5
RENDER_VERSION = "2"  # bump when rendering changes, so cached files are rendered again
TAIL_SECONDS = 1.0
MERGE_SECONDS = 0.03


@dataclass(frozen=True)
class DrumNote:
    time_seconds: float
    note: int
    velocity: int


@dataclass(frozen=True)
class Groove:
    name: str
    style: str
    tempo_bpm: float
    bars: int
    key: int  # pitch class of the tonic (band parts)
    kit: int  # GM drum kit (program on channel 10)
    drums: tuple[DrumNote, ...]
    band: tuple[tuple[float, float, int, int, int], ...] = field(default=())  # (start, end, pitch, velocity, program)

    @property
    def music_seconds(self) -> float:
        return self.bars * 4 * 60.0 / self.tempo_bpm

    @property
    def duration_seconds(self) -> float:
        return self.music_seconds + TAIL_SECONDS

    def truth(self) -> dict[str, np.ndarray]:
        """Hit times (seconds) per lane, sorted, hits within MERGE_SECONDS of each other merged."""
        out: dict[str, list[float]] = {lane: [] for lane in LANES}
        for hit in sorted(self.drums, key=lambda d: d.time_seconds):
            lane = GM_NOTE_TO_LANE.get(hit.note)
            if lane is None:
                continue
            times = out[lane]
            if not times or hit.time_seconds - times[-1] > MERGE_SECONDS:
                times.append(hit.time_seconds)
        return {lane: np.asarray(times) for lane, times in out.items()}

    def beat_times(self) -> np.ndarray:
        return np.arange(self.bars * 4) * 60.0 / self.tempo_bpm


def _pick(rng: np.random.Generator, options: list[list[int]]) -> list[int]:
    return list(options[int(rng.integers(len(options)))])


def _pattern(style: str, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """One bar of (sixteenth 0..15, GM note, velocity) for a style, with the seed's variations."""
    hits: list[tuple[int, int, int]] = []
    if style == "rock":
        kicks = [0, 8, *_pick(rng, [[], [6], [10], [14], [7, 10]])]
        hits += [(s, 36, 110) for s in kicks]
        hits += [(4, 38, 112), (12, 38, 115)]
        hats = range(0, 16, 2) if rng.random() < 0.75 else range(0, 16, 4)
        open_at = 14 if rng.random() < 0.5 else -1
        hits += [(s, 46 if s == open_at else 42, 95 if s % 4 == 0 else 72) for s in hats]
        if rng.random() < 0.3:
            hits = [(s, 51 if n == 42 else n, v) for s, n, v in hits]  # ride instead of hats
    elif style == "funk":
        kicks = [0, *_pick(rng, [[3, 10], [7, 10], [6, 11, 14], [10, 13]])]
        hits += [(s, 36, 108) for s in kicks]
        hits += [(4, 38, 115), (12, 38, 115)]
        ghosts = rng.choice([2, 7, 9, 11, 15], size=2, replace=False)
        hits += [(int(s), 38, 38) for s in ghosts]
        hits += [(s, 42, 92 if s % 4 == 0 else (70 if s % 2 == 0 else 52)) for s in range(16)]
    elif style == "hiphop":
        kicks = [0, *_pick(rng, [[3, 10], [7, 9], [10, 11], [6, 10, 15]])]
        hits += [(s, 36, 115) for s in kicks]
        hits += [(4, 40 if rng.random() < 0.5 else 38, 118), (12, 38, 118)]
        step = 1 if rng.random() < 0.4 else 2
        hits += [(s, 42, 85 if s % 4 == 0 else 62) for s in range(0, 16, step)]
    elif style == "house":
        hits += [(s, 36, 118) for s in (0, 4, 8, 12)]
        hits += [(4, 38, 100), (12, 38, 100)]
        hits += [(s, 46, 88) for s in (2, 6, 10, 14)]
        hits += [(s, 42, 60) for s in (1, 3, 5, 7, 9, 11, 13, 15)] if rng.random() < 0.6 else []
    elif style == "jazz":
        hits += [(s, 51, 92 if s % 8 == 4 else 80) for s in (0, 4, 7, 8, 12, 15)]  # swung: 7 and 15 moved later below
        hits += [(4, 44, 75), (12, 44, 75)]
        hits += [(s, 36, 45) for s in (0, 4, 8, 12)]
        comp = rng.choice([3, 6, 7, 10, 11, 14, 15], size=2, replace=False)
        hits += [(int(s), 38, int(rng.integers(55, 90))) for s in comp]
    else:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    return hits


def _fill(rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Beats 3-4 of a phrase's last bar: a run of sixteenths or eighths down the toms, snare first."""
    toms = [50, 48, 47, 45, 43, 41]
    step = 1 if rng.random() < 0.6 else 2
    out = [(s, 36, 100) for s in (8,)]
    for i, s in enumerate(range(8, 16, step)):
        position = i * len(toms) // ((16 - 8) // step)
        note = 38 if i < 2 else toms[min(position, len(toms) - 1)]
        out.append((s, note, 105 + int(rng.integers(-10, 15))))
    return out


def groove(seed: int, style: str | None = None, tempo_bpm: float | None = None, seconds: float = 20.0,
           mix_band: bool = True, kit: int = 0) -> Groove:
    """A groove of about `seconds`, its style, tempo and variations drawn from `seed` unless given."""
    rng = np.random.default_rng(seed)
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    low, high = STYLE_TEMPO_BPM[style]
    bpm = float(tempo_bpm if tempo_bpm is not None else rng.integers(low, high + 1))
    bar_seconds = 4 * 60.0 / bpm
    bars = max(2, round(seconds / bar_seconds))
    sixteenth = 60.0 / bpm / 4
    swing = 0.0
    if style == "jazz":
        swing = sixteenth * 2 / 3  # the swung eighth falls on the last triplet
    elif style == "hiphop":
        swing = sixteenth * float(rng.uniform(0.0, 0.35))
    drums: list[DrumNote] = []
    base = _pattern(style, rng)
    for bar in range(bars):
        bar_hits = list(base) if rng.random() < 0.7 else _pattern(style, rng)
        phrase = 8 if style == "house" else 4
        if bar % phrase == phrase - 1 and bar < bars - 1:
            bar_hits = [h for h in bar_hits if h[0] < 8] + _fill(rng)
        if bar % phrase == 0:
            crash = 49 if rng.random() < 0.7 else 57
            bar_hits = [h for h in bar_hits if not (h[0] == 0 and h[1] in (42, 46, 51))] + [(0, crash, 112)]
        for s, note, velocity in bar_hits:
            at = bar * bar_seconds + s * sixteenth
            if s % 2 == 1 and style in ("jazz", "hiphop") and note in (51, 42, 38, 36):
                at += swing
            jitter = float(rng.normal(0.0, 0.004))
            vel = int(np.clip(velocity + rng.integers(-8, 9), 20, 127))
            drums.append(DrumNote(max(0.0, at + jitter), note, vel))
    key = int(rng.integers(12))
    band: list[tuple[float, float, int, int, int]] = []
    if mix_band:
        progression = [0, 5, 7, 0] if rng.random() < 0.5 else [0, 9, 5, 7]
        for bar in range(bars):
            root = key + progression[bar % 4]
            start = bar * bar_seconds
            bass_pitch = 36 + root % 12
            for beat in range(4):
                if style == "jazz" or rng.random() < 0.6:
                    pitch = bass_pitch + (0, 7, 12, 7)[beat] if style != "jazz" else bass_pitch + (0, 4, 7, 9)[beat]
                    at = start + beat * 4 * sixteenth
                    band.append((at, at + 3.6 * sixteenth, pitch, 95, 33))
                elif beat == 0 or rng.random() < 0.5:
                    at = start + beat * 4 * sixteenth
                    band.append((at, at + 7.5 * sixteenth, bass_pitch, 100, 33))
            third = 3 if progression[bar % 4] == 9 else 4
            chord = [60 + root % 12, 60 + (root + third) % 12, 60 + (root + 7) % 12]
            comp = (0, 6, 10) if style in ("funk", "hiphop", "jazz") else (0, 4, 8, 12)
            for s in comp:
                at = start + s * sixteenth
                length = (3.5 if style != "house" else 1.8) * sixteenth
                for pitch in chord:
                    band.append((at, at + length, pitch, 72, 0))
    name = f"{style}-{int(bpm)}-s{seed}" + (f"-k{kit}" if kit else "")
    return Groove(name, style, bpm, bars, key, kit, tuple(drums), tuple(band))


def _midi(g: Groove, part: str) -> mido.MidiFile:
    """The drums (channel 10) or the band (bass channel 0, piano channel 1) as a MIDI file; the file's
    tempo is 120 quarter notes a minute, so a tick is 1/960 s and times are written in seconds."""
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_QUARTER)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events: list[tuple[float, int, mido.Message]] = []
    if part == "drums":
        track.append(mido.Message("program_change", channel=DRUM_CHANNEL, program=g.kit, time=0))
        for d in g.drums:
            on = mido.Message("note_on", channel=DRUM_CHANNEL, note=d.note, velocity=d.velocity)
            events.append((d.time_seconds, 1, on))
            events.append((d.time_seconds + 0.1, 0, mido.Message("note_off", channel=DRUM_CHANNEL, note=d.note)))
    else:
        track.append(mido.Message("program_change", channel=0, program=33, time=0))
        track.append(mido.Message("program_change", channel=1, program=0, time=0))
        for start, end, pitch, velocity, program in g.band:
            channel = 0 if program == 33 else 1
            events.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            events.append((end, 0, mido.Message("note_off", channel=channel, note=pitch)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for seconds, _, message in events:
        tick = round(seconds * 960)
        track.append(message.copy(time=tick - now))
        now = tick
    return midi


def render_part(g: Groove, part: str, soundfont: Path | SampleKit | SynthKit, cache_dir: Path,
                sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """One stem ('drums' or 'band') through the fluidsynth CLI, mono float32, `duration_seconds` long;
    cached in `cache_dir` under a hash of the MIDI bytes and the render settings. On a sampled kit the drums are
    played from its samples (samplekits.render_drums), at the RMS of the same drums on FluidR3_GM's standard
    kit (so the band sits as loud against them), and the band is FluidR3_GM's; so on a kit we synthesize
    (synthkits.SynthKit)."""
    if isinstance(soundfont, SampleKit | SynthKit):
        if part == "band" or sample_rate_hz != SAMPLE_RATE_HZ:
            return render_part(g, part, FLUIDR3, cache_dir, sample_rate_hz)
        layers = soundfont.layers() if isinstance(soundfont, SynthKit) else samplekits.instruments(soundfont)
        played = samplekits.play(g, layers)
        reference = render_part(replace(g, kit=0), "drums", FLUIDR3, cache_dir, sample_rate_hz)
        gain = float(np.sqrt(np.mean(reference**2)) / (np.sqrt(np.mean(played**2)) + 1e-12))
        return (played * gain).astype(np.float32)
    midi = _midi(g, part)
    midi_bytes = io.BytesIO()
    midi.save(file=midi_bytes)
    digest = hashlib.sha256(midi_bytes.getvalue())
    digest.update(f"|{soundfont.name}|{sample_rate_hz}|{RENDER_GAIN}|{RENDER_VERSION}".encode())
    cached = cache_dir / f"{g.name}-{part}-{soundfont.stem}-{digest.hexdigest()[:12]}.wav"
    return render_midi(midi, soundfont, cached, sample_rate_hz=sample_rate_hz, seconds=g.duration_seconds)


def render_midi(midi: mido.MidiFile, soundfont: Path, cached: Path | None, *, gain: float | None = RENDER_GAIN,
                effects: bool = True, sample_rate_hz: int = SAMPLE_RATE_HZ, seconds: float | None = None) -> np.ndarray:
    """`midi` through the fluidsynth CLI (at `gain`, fluidsynth's own when None; reverb and chorus off unless
    `effects`), mono float32 at `sample_rate_hz`, padded or cut to `seconds` when given; cached at `cached` (read from
    there when it exists), or not cached when it is None. The one place the bench and the model's tool render MIDI."""
    if cached is not None and cached.exists():
        audio, _ = soundfile.read(str(cached), dtype="float32")
        return np.asarray(audio, dtype=np.float32)
    options = ([] if gain is None else ["-g", str(gain)]) + ([] if effects else ["-R", "0", "-C", "0"])
    with tempfile.TemporaryDirectory() as work:
        midi_path, raw = Path(work) / "in.mid", Path(work) / "raw.wav"
        midi.save(str(midi_path))
        subprocess.run(["fluidsynth", "-ni", "-q", *options, "-r", str(sample_rate_hz), "-F", str(raw), str(soundfont),
                        str(midi_path)], check=True, capture_output=True, timeout=600)
        audio, rate = soundfile.read(str(raw), dtype="float32", always_2d=True)
    if rate != sample_rate_hz:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz, not {sample_rate_hz} Hz")
    mono = audio.mean(axis=1)
    if seconds is not None:
        n = round(seconds * sample_rate_hz)
        mono = np.pad(mono, (0, max(0, n - mono.size)))[:n]
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(cached), mono, sample_rate_hz, subtype="FLOAT")
    return np.asarray(mono, dtype=np.float32)


def render_groove(g: Groove, soundfont: Path | SampleKit | SynthKit, cache_dir: Path, *, mix: bool = False,
                  noise_snr_db: float | None = None, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The drums alone, or drums plus the band (summed stems), optionally with white noise at an SNR
    (seeded by the groove's name), peak-normalised to 0.9."""
    audio = render_part(g, "drums", soundfont, cache_dir, sample_rate_hz)
    if mix:
        band = render_part(g, "band", soundfont, cache_dir, sample_rate_hz)
        audio = audio + band[: audio.size]
    if noise_snr_db is not None:
        seed = int.from_bytes(hashlib.sha256(g.name.encode()).digest()[:4], "little")
        noise = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
        power = float(np.mean(audio**2)) or 1e-12
        audio = audio + noise * np.sqrt(power / 10 ** (noise_snr_db / 10))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (0.9 / peak) if peak > 0 else audio).astype(np.float32)


SPLITS = ("tune", "heldout", "kits", "validation")
TUNE_COUNT = 10
TUNE_SOUNDFONTS = (FLUIDR3, MUSESCORE, GMBANK)  # templates, thresholds and the classifier come from these only
# recorded acoustic kits (GPL) only ever played for evaluation: the 'kits' split, a second held-out set
HELDOUT_SAMPLE_KITS = samplekits.KITS
HELDOUT_SEED = 3000  # fresh: seeds 1000.. were the held-out split until the grooves there had been seen
KITS_SEED = 5000
# the validation split: grooves on each of samplekits.VALIDATION_KITS (before a change on 2026-12-01 also sf_GMbank
# grooves, seeds 500.., and GMRockKit's, 600..; dropped: they play the held-out splits' recordings, bench/maps/overlap.py)
VALIDATION_SEEDS = {"Millo3": 610, "BJAPacific": 620, "Forzee": 630}
SOUNDFONT_PACKAGES = {  # SoundFont -> the Debian package that installs it (and its licence)
    FLUIDR3: ("fluid-soundfont-gm", "MIT"),
    MUSESCORE: ("musescore-general-soundfont-lossless", "MIT; parts CC0 / public domain"),
    GMBANK: ("csound-soundfont", "public domain"),
    TIMGM: ("timgm6mb-soundfont", "GPL-2"),
}


def missing_soundfonts(soundfonts: tuple[Path | SampleKit, ...] = (*TUNE_SOUNDFONTS, TIMGM, *samplekits.KITS,
                                                                   *samplekits.VALIDATION_KITS)
                       ) -> list[str]:
    """'path (apt-get install -y package)' for each SoundFont or sampled kit that is not installed."""
    out = []
    for sf in soundfonts:
        path, package = (sf.path, sf.package) if isinstance(sf, SampleKit) else (sf, SOUNDFONT_PACKAGES[sf][0])
        if not path.exists():
            out.append(f"{path} (apt-get install -y {package})")
    return out


HELDOUT_SNR_DB = 40.0
TUNE_KITS = (0, 8, 0, 16, 0, 24, 0, 32, 0, 40)


def split(name: str, count: int = 10, seconds: float = 16.0) -> list[tuple[Groove, Path | SampleKit, float | None]]:
    """The grooves of a split with their SoundFont (or sampled kit) and noise. 'tune': `count` grooves on each of
    TUNE_SOUNDFONTS (FluidR3_GM seeds 0.., MuseScore_General 100.., sf_GMbank 200..), half of each on the
    SoundFont's other drum kits (room, power, electronic, jazz, brush), so thresholds and the classifier
    are chosen for more than one sound. 'heldout': `count` grooves on TimGM6mb at HELDOUT_SNR_DB, seeds
    HELDOUT_SEED.. (other tempos, keys and variations), standard kit; a SoundFont never used for tuning. 'kits':
    `count` grooves taking turns on HELDOUT_SAMPLE_KITS (recorded acoustic kits, GPL, never learned from) at
    HELDOUT_SNR_DB, seeds KITS_SEED... 'validation': `count` grooves on each of samplekits.VALIDATION_KITS (recorded
    kits), at HELDOUT_SNR_DB, seeds VALIDATION_SEEDS: where model changes are chosen, outside both held-out splits
    (sharing no sound with them) and outside what the detector learns from. Styles cycle so every split has every style."""
    if name not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {name!r}")
    out: list[tuple[Groove, Path | SampleKit, float | None]] = []
    if name == "tune":
        for j, soundfont in enumerate(TUNE_SOUNDFONTS):
            for i in range(count):
                kit = TUNE_KITS[i % len(TUNE_KITS)]
                out.append((groove(100 * j + i, STYLES[i % len(STYLES)], seconds=seconds, kit=kit), soundfont, None))
        return out
    if name == "validation":
        if count > 10:
            raise ValueError("the validation split has 10 grooves a set (VALIDATION_SEEDS are 10 apart)")
        for sample_kit in samplekits.VALIDATION_KITS:
            first = VALIDATION_SEEDS[sample_kit.stem]
            for i in range(count):
                out.append((groove(first + i, STYLES[i % len(STYLES)], seconds=seconds), sample_kit, HELDOUT_SNR_DB))
        return out
    if name == "kits":
        for i in range(count):
            sample_kit = HELDOUT_SAMPLE_KITS[i % len(HELDOUT_SAMPLE_KITS)]
            out.append((groove(KITS_SEED + i, STYLES[i % len(STYLES)], seconds=seconds), sample_kit, HELDOUT_SNR_DB))
        return out
    for i in range(count):
        out.append((groove(HELDOUT_SEED + i, STYLES[i % len(STYLES)], seconds=seconds), TIMGM, HELDOUT_SNR_DB))
    return out
