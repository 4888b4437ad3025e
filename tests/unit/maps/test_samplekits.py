"""bench/maps/samplekits.py: grooves played on a Hydrogen drum kit (the drum bench's recorded-kits split), on a
small kit written here: which layer a velocity plays, where a hit lands, the open hi-hat cut by the next closed
one, and a kit that lacks a drum refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bench.maps import grooves, samplekits
from soundcanvas.maps.drums import GM_NOTE_TO_LANE, SAMPLE_RATE_HZ

KIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test kit</name>
 <instrumentList>
{instruments}
 </instrumentList>
</drumkit_info>
"""
SOFT, LOUD, CLOSED, OPEN, OTHER = 0.1, 0.5, 0.2, 0.3, 0.05  # each sample is a constant at its own level


def instrument(name: str, layers: list[tuple[float, float, str]], *, component: bool = False) -> str:
    body = "".join(f"<layer><filename>{f}</filename><min>{lo}</min><max>{hi}</max><gain>1</gain></layer>"
                   for lo, hi, f in layers)
    if component:  # Hydrogen 0.9.7's format nests the layers
        body = f"<instrumentComponent>{body}</instrumentComponent>"
    return f"<instrument><name>{name}</name><volume>1</volume><gain>1</gain>{body}</instrument>"


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> samplekits.SampleKit:
    folder = tmp_path / "Test kit"
    folder.mkdir()
    for name, level, seconds in (("soft", SOFT, 0.2), ("loud", LOUD, 0.2), ("closed", CLOSED, 0.1),
                                 ("open", OPEN, 1.0), ("other", OTHER, 0.1)):
        soundfile.write(str(folder / f"{name}.wav"), np.full(round(seconds * 44100), level, dtype=np.float32), 44100)
    xml = KIT_XML.format(instruments="\n".join([
        instrument("Snare", [(0.0, 0.5, "soft.wav"), (0.5, 1.0, "loud.wav")], component=True),
        instrument("Closed", [(0.0, 1.0, "closed.wav")]),
        instrument("Open", [(0.0, 1.0, "open.wav")]),
        instrument("Other", [(0.0, 1.0, "other.wav")]),
    ]))
    (folder / "drumkit.xml").write_text(xml, encoding="utf-8")
    monkeypatch.setattr(samplekits, "HYDROGEN_DIR", tmp_path)
    notes = {note: "Other" for note in GM_NOTE_TO_LANE}
    notes.update({38: "Snare", 42: "Closed", 44: "Closed", 46: "Open"})
    return samplekits.SampleKit("test", "Test kit", "none", "test", notes)


def groove_of(*hits: tuple[float, int, int]) -> grooves.Groove:
    drums = tuple(grooves.DrumNote(t, note, velocity) for t, note, velocity in hits)
    return grooves.Groove("test", "rock", 120.0, 1, 0, 0, drums)  # one bar at 120 BPM: 2 s, plus the tail


def at(audio: np.ndarray, seconds: float) -> float:
    return float(audio[round(seconds * SAMPLE_RATE_HZ)])


def test_velocity_picks_the_layer_and_scales_it(kit: samplekits.SampleKit) -> None:
    audio = samplekits.render_drums(groove_of((0.5, 38, 40), (1.5, 38, 127)), kit)
    assert audio.size == round(3.0 * SAMPLE_RATE_HZ)  # the bar and the groove's 1 s tail
    assert at(audio, 0.45) == 0.0  # silence before the first hit
    assert at(audio, 0.6) == pytest.approx(SOFT * 40 / 127, rel=1e-3)  # the soft layer, at velocity 40
    assert at(audio, 1.6) == pytest.approx(LOUD, rel=1e-3)  # the loud layer, at full velocity
    assert at(audio, 1.0) == 0.0  # each sample lasts 0.2 s


def test_an_open_hat_rings_until_the_next_closed_hat(kit: samplekits.SampleKit) -> None:
    ringing = samplekits.render_drums(groove_of((0.5, 46, 127)), kit)
    choked = samplekits.render_drums(groove_of((0.5, 46, 127), (0.8, 42, 127)), kit)
    assert at(ringing, 1.2) == pytest.approx(OPEN, rel=1e-3)  # a 1 s sample rings on alone
    assert at(choked, 0.7) == pytest.approx(OPEN, rel=1e-3)  # before the closed hat: unchanged
    assert at(choked, 0.85) == pytest.approx(CLOSED, rel=1e-3)  # after it (and its 10 ms fade): the closed hat only
    assert at(choked, 1.2) == 0.0


def test_a_kit_without_an_instrument_for_a_drum_is_refused_by_note(kit: samplekits.SampleKit) -> None:
    lacking = samplekits.SampleKit("lacking", "Test kit", "none", "test", {38: "Snare"})
    with pytest.raises(ValueError, match=r"GM notes \[35, 36, 37"):
        samplekits.instruments(lacking)


def test_the_kit_drums_sit_at_the_reference_loudness_and_the_band_is_fluidr3s(
        kit: samplekits.SampleKit, tmp_path: Path) -> None:
    if not grooves.FLUIDR3.exists():
        pytest.skip("FluidR3_GM is not installed")
    g = grooves.groove(8800, "rock", tempo_bpm=120, seconds=4.0)
    played = grooves.render_part(g, "drums", kit, tmp_path)
    reference = grooves.render_part(g, "drums", grooves.FLUIDR3, tmp_path)
    assert np.sqrt(np.mean(played**2)) == pytest.approx(np.sqrt(np.mean(reference**2)), rel=1e-3)
    assert np.array_equal(grooves.render_part(g, "band", kit, tmp_path),
                          grooves.render_part(g, "band", grooves.FLUIDR3, tmp_path))


def test_the_validation_split_shares_no_groove_or_kit_with_the_held_out_splits() -> None:
    validation = grooves.split("validation", 10)
    others = grooves.split("tune", 10) + grooves.split("heldout", 10) + grooves.split("kits", 10)
    assert {g.name for g, _, _ in validation}.isdisjoint({g.name for g, _, _ in others})
    assert {kit for _, kit, _ in validation} == set(samplekits.VALIDATION_KITS)
    assert not set(samplekits.VALIDATION_KITS) & set(samplekits.KITS)
    assert len(validation) == 10 * len(samplekits.VALIDATION_KITS)


@pytest.mark.skipif(not all(kit.path.exists() for kit in samplekits.VALIDATION_KITS),
                    reason="needs Debian's hydrogen-drumkits and hydrogen-data (make bench-deps)")
def test_every_validation_kit_plays_every_gm_drum() -> None:
    for kit in samplekits.VALIDATION_KITS:
        assert set(samplekits.instruments(kit)) == set(GM_NOTE_TO_LANE)
