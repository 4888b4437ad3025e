"""tools/build_drum_templates.py's onset detector: renders given only to the hi-hat members (hat_cases) change
those members alone; the other members and the inputs' standardisation are what they are without them. On two
short synthesized grooves, with tiny networks, so it runs in seconds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bench.maps import grooves, samplekits
from bench.maps.synthkits import SynthKit

# a script, not a package: loaded from its file so that tools/ does not join the import path
_SPEC = importlib.util.spec_from_file_location(
    "build_drum_templates", Path(__file__).resolve().parents[3] / "tools" / "build_drum_templates.py")
assert _SPEC is not None and _SPEC.loader is not None
bdt = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bdt)


def case(seed: int, kit: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    groove = grooves.groove(seed, "rock", seconds=3.0)
    return groove.truth(), samplekits.play(groove, SynthKit(kit).layers())


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bdt, "DETECTOR_HIDDEN", (4,))
    monkeypatch.setattr(bdt, "DETECTOR_EPOCHS", 2)


def test_hat_cases_change_the_hat_members_only(tiny: None) -> None:
    base = [case(1, 1000)]
    without = bdt.train_detector(base)
    with_hats = bdt.train_detector(base, [case(2, 1001)])
    members = int(without["detector_member_count"])
    assert members == 2 * bdt.DETECTOR_MEMBERS
    for key in ("detector_mean", "detector_scale", "detector_cuts", "detector_votes"):
        assert np.array_equal(without[key], with_hats[key]), key
    for member in range(members):
        same = all(np.array_equal(without[f"detector_{kind}{member}_{depth}"], with_hats[f"detector_{kind}{member}_{depth}"])
                   for kind in ("w", "b") for depth in range(2))
        equalised = member >= bdt.DETECTOR_MEMBERS  # the members that answer for the hi-hats
        assert same != equalised, member
    hat_votes = without["detector_votes"][bdt.DETECTOR_MEMBERS:]
    columns = [bdt.drums.DETECTOR_TARGETS.index(target) for target in bdt.DETECTOR_EQ_TARGETS]
    assert (hat_votes[:, columns] == 1).all() and hat_votes.sum() == len(columns) * bdt.DETECTOR_MEMBERS


def test_the_shipped_files_detector_settings_are_the_tools() -> None:
    """The shipped model is this tool's output: its per-output cuts and per-lane gates are the tool's constants (a
    gate changed in one place only would leave the file and the tool telling different stories)."""
    from soundcanvas.maps.drums import DETECTOR_TARGETS, LANES, load_model

    model = load_model()
    assert model.detector_gates is not None and model.detector_cuts is not None
    assert {lane: float(g) for lane, g in zip(LANES, model.detector_gates, strict=True) if g} == bdt.DETECTOR_GATES
    expected_cuts = [bdt.DETECTOR_CUTS.get(target, 0.5) for target in DETECTOR_TARGETS]
    assert [float(c) for c in model.detector_cuts] == pytest.approx(expected_cuts)
    assert tuple(model.detected) == bdt.DETECTED_LANES


def test_the_build_runs_its_blas_at_the_pinned_thread_count() -> None:
    """Another thread count sums in another order and the networks' training carries the difference far, so the
    build pins the BLAS whatever the caller set, and says what it ran with."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=1), bdt.pinned_blas() as build:
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == bdt.BUILD_THREADS for pool in blas)
    assert f"numpy {np.__version__}" in build and f"x{bdt.BUILD_THREADS}" in build


def test_the_shipped_file_was_built_at_the_pinned_thread_count() -> None:
    with np.load(bdt.drums.TEMPLATES_PATH, allow_pickle=False) as data:
        build = str(data["build"])
    assert "scikit-learn" in build and "openblas" in build and f"x{bdt.BUILD_THREADS}" in build
