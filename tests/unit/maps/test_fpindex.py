"""soundcanvas.maps.fpindex on moto's DynamoDB (the `aws` fixture: tables from template.yaml) and real audio."""

from __future__ import annotations

import os
from typing import Any

import boto3
import numpy as np
import pytest

from soundcanvas.maps import fpindex, fpkeys
from soundcanvas.maps.fingerprints import duplicate_kind, fingerprint_samples, speed_variants
from soundcanvas.maps.fpindex import FingerprintIndex, IndexedAudio, Match
from tests.unit.maps.test_fingerprints import RATE_HZ, degrade, played_at, rendered_mp3, rendered_songs

pytestmark = pytest.mark.fluidsynth
SONG = {name: IndexedAudio("song", f"song-{name}", "public", f"Title {name}", "Artist") for name in ("a", "b", "c")}


@pytest.fixture(scope="module")
def prints() -> dict[str, np.ndarray]:
    return {name: fingerprint_samples(song.samples, RATE_HZ) for name, song in rendered_songs().items()}


@pytest.fixture
def table(aws: dict[str, Any]) -> str:
    return os.environ["FINGERPRINTS_TABLE_NAME"]  # set by the aws fixture, as template.yaml sets it


@pytest.fixture
def index(table: str) -> FingerprintIndex:
    return FingerprintIndex(boto3.client("dynamodb", region_name="us-east-1"), table)


@pytest.fixture
def catalog(index: FingerprintIndex, prints: dict[str, np.ndarray]) -> FingerprintIndex:
    index.bulk_add([(audio, prints[name]) for name, audio in SONG.items()], merge=False)
    return index


def all_items(table: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.scan(TableName=table)["Items"]  # tests only: the index itself never scans
    for item in items:
        if "p" in item:
            item["p"]["BS"] = sorted(item["p"]["BS"])
    return sorted(items, key=lambda item: item["pk"]["S"])


def snippet_items(name: str, start: float, seconds: float, how: str, seed: int = 0) -> np.ndarray:
    source = rendered_mp3()[name] if how == "mp3-128k" else rendered_songs()[name].samples
    part = source[int(start * RATE_HZ):int((start + seconds) * RATE_HZ)]
    return fingerprint_samples(degrade(part, how, np.random.default_rng(seed)), RATE_HZ)


CASES = [(name, start, seconds, how) for name, start, seconds in (("a", 31.3, 10), ("b", 3.7, 5), ("c", 12.2, 30))
         for how in ("mp3-128k", "quieter-10dB", "noise-10dB-SNR")]


def test_identify_degraded_snippets(catalog: FingerprintIndex) -> None:
    """Nine snippets (5/10/30 s; MP3 128k, -10 dB, 10 dB SNR noise) against one index (moto setup is the slow part)."""
    wrong = []
    for name, start, seconds, how in CASES:
        matches = catalog.identify(snippet_items(name, start, seconds, how), ["public"])
        top = matches[0] if matches else None
        if top is None or (top.kind, top.id, top.scope, top.title) != ("song", f"song-{name}", "public", f"Title {name}") \
                or abs(top.offset_seconds - start) > 0.5:
            wrong.append((name, start, seconds, how, top))
            continue
        assert 0.0 < top.score <= 1.0
        assert top.score == pytest.approx(1 - 2 * top.bit_error_rate)
        assert [m.bit_error_rate for m in matches] == sorted(m.bit_error_rate for m in matches)
    assert wrong == []


def test_unknown_song_is_not_identified(catalog: FingerprintIndex) -> None:
    answered = [(seconds, start, how, catalog.identify(snippet_items("unknown", start, seconds, how), ["public"]))
                for seconds in (5, 10, 30) for start in (1.0, 14.5) for how in ("mp3-128k", "noise-10dB-SNR")]
    assert [a for a in answered if a[3]] == []


def test_speed_search_finds_a_sped_up_snippet_and_nothing_unknown(catalog: FingerprintIndex) -> None:
    """MP3 snippets played 3 % fast (10 s) and 2.5 % slow (30 s): plain identify finds neither, the speed search
    finds each with its speed (+-0.005) and where it starts (+-0.5 s); unknown snippets at changed speeds match
    nothing under the speed search either."""
    for name, start, seconds, speed in (("a", 21.0, 10, 1.03), ("c", 8.0, 30, 0.975)):
        source = rendered_mp3()[name]
        part = played_at(source[int(start * RATE_HZ):int((start + seconds * speed) * RATE_HZ)], speed)
        assert catalog.identify(fingerprint_samples(part, RATE_HZ), ["public"]) == []
        found = catalog.identify_speeds(speed_variants(part, RATE_HZ), ["public"])
        assert [m.id for m in found] == [f"song-{name}"]
        assert abs(found[0].speed - speed) <= 0.005 and abs(found[0].offset_seconds - start) <= 0.5
    unknown = rendered_mp3()["unknown"]
    for start, seconds, speed in ((3.0, 10, 1.02), (10.0, 5, 0.965), (1.0, 30, 1.035)):
        part = played_at(unknown[int(start * RATE_HZ):int((start + seconds * speed) * RATE_HZ)], speed)
        assert catalog.identify_speeds(speed_variants(part, RATE_HZ), ["public"]) == []


def test_rescoring_variants_together_is_rescoring_each(catalog: FingerprintIndex) -> None:
    """rescore_variants shares the reads, not the answers: each query's Rescored is what rescore gives it alone,
    for a snippet, another song's, a near-silent one and an empty one; with no scope, nothing is read."""
    quiet = snippet_items("a", 5.0, 10, "clean") & np.uint32(0xFF000000)  # items that barely change: not music
    queries = [snippet_items("a", 20.0, 10, "mp3-128k"), snippet_items("b", 3.7, 5, "noise-10dB-SNR"), quiet,
               np.zeros(0, np.uint32)]
    together = catalog.rescore_variants(queries, ["public", "public"])
    assert together == [catalog.rescore(q, ["public"]) for q in queries]
    assert [r.candidates[0].id for r in together[:2]] == ["song-a", "song-b"] and together[2:] == [
        fpindex.Rescored(together[2].n_informative, ()), fpindex.Rescored(0, ())]
    assert together[2].n_informative < fpindex.MIN_SNIPPET_ITEMS
    assert catalog.rescore_variants(queries, []) == [fpindex.Rescored(0, ())] * 4


def test_find_duplicates_across_encodings(catalog: FingerprintIndex) -> None:
    mp3 = fingerprint_samples(rendered_mp3()["b"], RATE_HZ)
    found = catalog.find_duplicates(mp3, ["public"])
    assert [m.id for m in found] == ["song-b"]
    assert duplicate_kind(found[0].bit_error_rate) == "different-encoding"
    assert abs(found[0].offset_seconds) <= 0.5
    same = catalog.find_duplicates(fingerprint_samples(rendered_songs()["b"].samples, RATE_HZ), ["public"])
    assert [(m.id, duplicate_kind(m.bit_error_rate), m.score) for m in same] == [("song-b", "same-recording", 1.0)]
    assert catalog.find_duplicates(mp3, ["public"], exclude=("song", "song-b")) == []
    assert catalog.find_duplicates(fingerprint_samples(rendered_mp3()["unknown"], RATE_HZ), ["public"]) == []


def test_a_snippet_is_not_a_whole_track_duplicate(catalog: FingerprintIndex) -> None:
    assert catalog.find_duplicates(snippet_items("c", 10.0, 30, "clean"), ["public"]) == []


def test_add_is_idempotent_and_matches_bulk_add(index: FingerprintIndex, table: str, prints: dict[str, np.ndarray],
                                                aws: dict[str, Any]) -> None:
    audio = IndexedAudio("track", "t-short", "user-1", "Short one", "", 30.0)
    index.add(audio, prints["short"])
    once = all_items(table)
    index.add(audio, prints["short"])
    assert all_items(table) == once
    tag = fpkeys.scope_tag("user-1")  # a user's scope in keys is a hash: no key carries the user id
    assert tag != "user-1" and not any("user-1" in item["pk"]["S"] for item in once)
    assert any(item["pk"]["S"].startswith(f"s#{tag}#") for item in once)
    assert any(item["pk"]["S"].startswith(f"w#{tag}#") for item in once)
    assert max(len(item["fp"]["B"]) for item in once if "fp" in item) < 4 * prints["short"].size
    other = "fp-bulk-copy"
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName=other, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    FingerprintIndex(client, other).bulk_add([(audio, prints["short"])])
    assert all_items(other) == once


def test_a_slow_older_version_never_replaces_a_newer_one(index: FingerprintIndex, prints: dict[str, np.ndarray]) -> None:
    """A track uploaded again while its first version is still fingerprinted: the first version's step may write
    last, and must not put its recording back over the second's."""
    track = IndexedAudio("track", "t1", "alice", "Mine", "", stamp="2026-12-02T10:00:05.000Z")
    assert index.add(track, prints["b"])  # the newer upload, claimed at :05, indexed first
    older = IndexedAudio("track", "t1", "alice", "Mine", "", stamp="2026-12-02T10:00:01.000Z")
    assert not index.add(older, prints["a"])
    assert [m.id for m in index.find_duplicates(prints["b"], ["alice"])] == ["t1"]
    assert index.find_duplicates(prints["a"], ["alice"]) == []  # the older recording's postings rescore against b
    assert index.add(track, prints["b"])  # the same version again (a retried step) is written
    assert index.add(IndexedAudio("track", "t1", "alice", "Mine", "", stamp="2026-12-02T10:01:00.000Z"), prints["a"])
    assert [m.id for m in index.find_duplicates(prints["a"], ["alice"])] == ["t1"]


def test_remove_round_trip(catalog: FingerprintIndex, table: str, prints: dict[str, np.ndarray]) -> None:
    query = snippet_items("a", 20.0, 10, "mp3-128k")
    before_b = catalog.identify(snippet_items("b", 20.0, 10, "mp3-128k"), ["public"])
    assert catalog.identify(query, ["public"])[0].id == "song-a"
    catalog.remove(SONG["a"], prints["a"])
    assert catalog.identify(query, ["public"]) == []
    assert catalog.find_duplicates(prints["a"], ["public"]) == []
    ref = fpindex.audio_ref("public", "song", "song-a")
    items = all_items(table)
    assert not any(item["pk"]["S"] == f"a#{ref.hex()}" for item in items)
    assert not any(p.startswith(ref) for item in items for p in item.get("p", {}).get("BS", []))
    assert catalog.identify(snippet_items("b", 20.0, 10, "mp3-128k"), ["public"]) == before_b


def test_scopes_keep_users_apart(catalog: FingerprintIndex) -> None:
    mine = IndexedAudio("track", "t-1", "user-1", "My upload", "Me", 47.0)
    catalog.bulk_add([(mine, fingerprint_samples(rendered_songs()["unknown"].samples, RATE_HZ))])
    query = snippet_items("unknown", 8.0, 10, "mp3-128k")
    assert catalog.identify(query, ["public", "user-2"]) == []
    found = catalog.identify(query, ["public", "user-1"])
    assert [(m.kind, m.id, m.scope) for m in found] == [("track", "t-1", "user-1")]
    whole = fingerprint_samples(rendered_mp3()["unknown"], RATE_HZ)
    assert catalog.find_duplicates(whole, ["user-2"]) == []
    assert [m.id for m in catalog.find_duplicates(whole, ["user-1"])] == ["t-1"]
    assert isinstance(found[0], Match)


def test_oversized_term_becomes_a_stop_term(index: FingerprintIndex, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fpindex, "MAX_POSTINGS", 3)
    key = "s#public#abcd"
    index._add_postings(key, {b"\x01" * 12, b"\x02" * 12})
    index._add_postings(key, {b"\x01" * 12, b"\x02" * 12})  # a replay: still fits, nothing new
    stored = {item["pk"]["S"]: item for item in all_items(table)}[key]
    assert "stop" not in stored and len(stored["p"]["BS"]) == 2
    index._add_postings(key, {b"\x03" * 12, b"\x04" * 12})  # would hold 4 > 3
    stored = {item["pk"]["S"]: item for item in all_items(table)}[key]
    assert stored.get("stop") == {"BOOL": True} and "p" not in stored
    index._add_postings(key, {b"\x05" * 12})
    assert "p" not in {item["pk"]["S"]: item for item in all_items(table)}[key]


def test_refuses_nothing_gracefully(catalog: FingerprintIndex) -> None:
    assert catalog.identify(np.zeros(0, np.uint32), ["public"]) == []
    assert catalog.identify(snippet_items("a", 5.0, 10, "clean"), []) == []


def test_deleting_the_audio_item_alone_takes_a_track_out_of_every_lookup(
        index: FingerprintIndex, table: str, prints: dict[str, np.ndarray]) -> None:
    """What a track's DELETE and the account erase do (soundcanvas.maps.fpkeys, no numpy): the postings stay,
    and match nothing."""
    mine = IndexedAudio("track", "t-a", "user-9", "A", "", 0.0)
    index.add(mine, prints["a"])
    query = snippet_items("a", 20.0, 10, "mp3-128k")
    assert [m.id for m in index.identify(query, ["public", "user-9"])] == ["t-a"]
    assert [m.id for m in index.find_duplicates(prints["a"], ["user-9"])] == ["t-a"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    assert fpkeys.delete_audio_items(client, table, "user-9", [("track", "t-a"), ("track", "never-indexed")]) == 2
    assert index.identify(query, ["public", "user-9"]) == []
    assert index.find_duplicates(prints["a"], ["user-9"]) == []
    assert not [item for item in all_items(table) if item["pk"]["S"].startswith("a#")]


def rescored(n: int, bers: list[float], runner_up: float) -> fpindex.Rescored:
    return fpindex.Rescored(n, tuple(Match("song", f"s{i}", "public", "", "", 1 - 2 * b, 0.0, b)
                                     for i, b in enumerate(bers)), runner_up)


def test_accepted_applies_items_threshold_and_margin() -> None:
    """The decision identify makes, on hand-made candidates at the edges of each constant."""
    n = 19
    limit = fpindex.snippet_max_ber(n)
    margin = fpindex.MIN_BER_MARGIN
    clear = rescored(n, [limit - 0.01, limit - 0.005, limit + 0.2], limit - 0.01 + margin + 0.01)
    assert [m.id for m in fpindex.accepted(clear)] == ["s0", "s1"]  # s1: a copy of s0 (not the runner-up)
    assert fpindex.accepted(rescored(n, [limit + 0.001], 0.5)) == []
    assert fpindex.accepted(rescored(n, [limit - 0.01], limit - 0.01 + margin - 0.005)) == []
    assert fpindex.accepted(rescored(fpindex.MIN_SNIPPET_ITEMS - 1, [0.0], 0.5)) == []
    assert [m.id for m in fpindex.accepted(rescored(fpindex.MIN_SNIPPET_ITEMS, [0.0], 0.5))] == ["s0"]
    assert fpindex.accepted(rescored(n, [], 0.5)) == []


def test_snippet_threshold_grows_with_items_and_is_capped() -> None:
    values = [fpindex.snippet_max_ber(n) for n in (fpindex.MIN_SNIPPET_ITEMS, 19, 59, 221, 2000)]
    assert values == sorted(values)
    assert values[-1] == fpindex.SNIPPET_BER_CAP
    assert 0.0 < values[0] < 0.15  # at the fewest items, chance agreement (other music ~0.14 at 5 s) must not pass
    assert values[-1] < 0.3  # unrelated music scores 0.3-0.5
    assert fpindex.snippet_max_ber(0) == 0.0


def test_the_speed_search_runs_only_after_a_miss_with_music_enough_to_vote() -> None:
    n = fpindex.MIN_SNIPPET_ITEMS
    missed = rescored(n, [0.45], 0.5)
    assert fpindex.accepted(missed) == [] and fpindex.needs_speed_search(missed, [])
    assert not fpindex.needs_speed_search(rescored(n - 1, [0.45], 0.5), [])  # mostly silence: silent at any speed
    found = rescored(n, [0.0], 0.5)
    assert not fpindex.needs_speed_search(found, fpindex.accepted(found))
    # the decision over variants: the accepted one of lowest BER, with its speed; none accepted, []
    limit = fpindex.snippet_max_ber(n)
    chosen = fpindex.speed_accepted([(0.99, rescored(n, [limit - 0.01], 0.5)), (1.02, rescored(n, [limit - 0.03], 0.5)),
                                     (1.03, rescored(n, [limit + 0.01], 0.5))])
    assert [(m.speed, m.bit_error_rate) for m in chosen] == [(1.02, pytest.approx(limit - 0.03))]
    assert fpindex.speed_accepted([(1.02, missed)]) == []


def test_identify_is_the_decision_on_rescore(catalog: FingerprintIndex) -> None:
    query = snippet_items("b", 12.0, 10, "noise-10dB-SNR")
    found = catalog.rescore(query, ["public"])
    assert found.candidates and found.candidates[0].id == "song-b"
    assert found.runner_up_ber - found.candidates[0].bit_error_rate >= fpindex.MIN_BER_MARGIN
    assert catalog.identify(query, ["public"]) == fpindex.accepted(found)


def test_a_copy_is_not_a_rival_but_a_shared_ending_is(index: FingerprintIndex, prints: dict[str, np.ndarray]) -> None:
    """Two copies of one recording (a library track and the catalog song) are both answered; two different songs
    that end on the same music make their ending ambiguous, so it is answered with nothing, while the body of
    either song is still identified."""
    a, b, c = prints["a"], prints["b"], prints["c"]
    ending = c[60:160]
    song_x = np.concatenate([a[:250], ending])
    song_y = np.concatenate([b[:250], ending])
    index.bulk_add([(IndexedAudio("song", "x", "public", "X"), song_x)], merge=False)
    query = ending[20:80].copy()
    assert [m.id for m in index.identify(query, ["public"])] == ["x"]
    index.add(IndexedAudio("track", "x-copy", "user-1", "X again"), song_x)
    both = index.identify(query, ["public", "user-1"])
    assert sorted(m.id for m in both) == ["x", "x-copy"]
    index.add(IndexedAudio("song", "y", "public", "Y"), song_y)
    rescored_ending = index.rescore(query, ["public"])
    assert sorted(m.id for m in rescored_ending.candidates[:2]) == ["x", "y"]
    assert index.identify(query, ["public"]) == []
    assert [m.id for m in index.identify(song_y[100:160].copy(), ["public"])] == ["y"]
