"""The drum bench's scoring (bench/maps/drums.py): what its report's figures are computed by."""

import numpy as np

from bench.maps import drums as bench


def _lanes(**times: list[float]) -> dict[str, np.ndarray]:
    return {lane: np.asarray(times.get(lane, []), dtype=float) for lane in
            ("kick", "snare", "hihat_closed", "hihat_open", "tom_high", "tom_low", "crash", "ride")}


def test_absent_rows_counts_hits_per_minute_only_where_the_groove_does_not_play_the_lane():
    truth = _lanes(kick=[0.0, 1.0], hihat_open=[0.5])
    estimate = _lanes(kick=[0.0, 1.0, 2.0], ride=[0.1, 0.6, 1.1], hihat_closed=[0.5, 1.5], tom_low=[3.0])

    rates = bench.absent_rows(truth, estimate, duration_seconds=30.0)

    assert rates["kick"] is None  # played: F1 scores it
    assert rates["hihat"] is None  # the open hat is a hi-hat
    assert rates["ride"] == 6.0  # 3 hits in 30 s
    assert rates["hihat_closed"] == 4.0
    assert rates["tom_low"] == 2.0
    assert rates["snare"] == 0.0


def test_f1_rows_skip_unplayed_lanes_and_merge_the_hats():
    truth = _lanes(kick=[0.0, 1.0], hihat_closed=[0.5], hihat_open=[1.5])
    estimate = _lanes(kick=[0.01, 2.0], hihat_open=[0.52, 1.49], ride=[0.7])

    rows = bench.f1_rows(truth, estimate)

    assert rows["ride"] is None and rows["snare"] is None
    assert rows["kick"] == 0.5  # one of two found, one of two right
    assert rows["hihat"] == 1.0  # closed called open still finds the hi-hat
    assert rows["hihat_closed"] == 0.0
    assert rows["hihat_open"] == 2 / 3
