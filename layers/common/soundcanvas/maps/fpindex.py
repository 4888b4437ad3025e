"""The fingerprint index in DynamoDB (`FingerprintsTable`, key `pk` only): identify snippets, find duplicates.

Every read is a BatchGetItem on keys computed from the query (chunks of 100, a few threads); nothing
ever Scans or Queries. A query reads only the scopes it is given ("public" for the catalog, a userId for
that user's library), so another user's tracks are never read, let alone returned.

Items (``ref`` = the first 8 bytes of blake2b(scope, kind, id), hex in keys, raw in postings; ``{scope}`` in a
key is "public" or a user's scope tag, a hash of the user id: soundcanvas.maps.fpkeys, which the functions
that only delete import without numpy or Chromaprint):

``a#{ref}``           the audio: kind, id, scope, title, artist, durationSeconds, items (count) and ``fp``,
                      the fingerprint in Chromaprint's compressed encoding (~2.8 bytes an item; at most
                      MAX_INDEXED_ITEMS items, ~60 minutes, so well under 200 KB). Rescoring reads it, so
                      no S3 GET sits on the query path.
``s#{scope}#{hhhhh}`` snippet postings of every item whose top 20 bits are ``hhhhh`` (SNIPPET_KEY_BITS): Binary
                      Set ``p`` of 12-byte postings ref(8) + position(uint16, big-endian) + the item's low 16 bits.
``w#{scope}#{hhhh}``  whole-track postings (AcoustID's query: 28-bit terms from items 80..200): Binary Set
                      ``p`` of 10-byte postings ref(8) + bits 4..15 of the item (uint16).

Why 20 key bits for snippets: a posting votes only when SNIPPET_VOTE_BITS (20) of its item's bits match the
query's, so a term item keyed on those 20 bits holds exactly the postings that can vote, and a query reads
the same number of term items (one per voting query item) holding 1/16 of the postings it read when the key
had 16 bits and the other 4 bits travelled in the posting. Until 2026-12-02 the key had 16 bits, to cap the
index at 65,536 term items a scope (a bulk load of 10,000 songs wrote ~65 k items, now ~1 M; one song's
`add` touches as many term items either way, one per distinct item); at 10,000 entries each query then read
~27,000 postings, and its time (p95 259 ms against 84 ms now, one process, the same 10,000 entries and
queries; the fingerprint bench: 203 -> 52 ms, every accuracy row unchanged) was the local DynamoDB's and
botocore's work on them, growing with the catalog. The whole-track index keeps 16 key bits (12 more in
the posting): find_duplicates reads only a file's 80-200 window.

Postings are a Binary Set written with ADD (DELETE on removal): a replayed event adds nothing new, so
``add`` is idempotent. A term item never grows past MAX_POSTINGS (~300 KB of the 400 KB item limit):
an ADD that would overflow turns the item into a stop term (``stop`` set, postings removed), as text
indexes drop words like "the"; such items are the near-silence and steady-tone items every song has, and
they carry no information about which song plays. Within one audio, a term keeps at most
MAX_POSITIONS_PER_TERM positions (a sustained chord repeats one item hundreds of times).

Identify (snippet): up to VOTE_ITEMS query items (spread over the snippet; a query reads at most that many
term items per scope, so a 30 s snippet costs what a 5 s one does) vote for (audio, offset = song position -
snippet position) for each posting whose top SNIPPET_VOTE_BITS bits match; votes in neighbouring offsets
are summed (a snippet starts anywhere inside an item); the top candidates are rescored, over the whole
snippet, by the BER at the best offset within
+-RESCORE_SLACK_ITEMS of the vote (`rescore`); `accepted` answers when the best passes `snippet_max_ber(n)`
and beats the best other music by MIN_BER_MARGIN (copies of one recording are not rivals). Items of
near-silence (`fingerprints.informative`) are neither indexed nor voted with nor counted in the BER, and n
counts the others: silence looks the same in every song, so a snippet that is mostly silence is answered with [].
Speed search (`identify_speeds`, run by the identify API when identify answers []): the snippet's items as if
played at each of 16 speeds within +-4 % (`fingerprints.speed_variants`), all their term items read together
(one `_batch_get`: BatchGetItem calls of 100 keys in parallel), each voted and rescored as above and decided by
the same `accepted`; the lowest BER wins.
Find duplicates (whole track): candidates by shared 28-bit terms, rescored over the whole track within
+-10 s, kept when the BER <= DUPLICATE_MAX_BER and the overlap covers DUPLICATE_MIN_COVERAGE of both.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np

from soundcanvas.maps.fingerprints import (
    DUPLICATE_MAX_BER,
    ITEM_SECONDS,
    best_alignment,
    from_bytes,
    informative,
    similarity,
    to_bytes,
)
from soundcanvas.maps.fpkeys import audio_key, audio_ref, term_key

KEY_BITS = 16  # top bits of an item that name its whole-track term item (w#)
SNIPPET_KEY_BITS = 20  # top bits of an item that name its snippet term item (s#): all the bits a vote needs
SNIPPET_VOTE_BITS = 20  # bits that must match for a posting to vote
WHOLE_TERM_BITS = 28  # AcoustID's term width
WHOLE_WINDOW = (80, 200)  # AcoustID's query window, in items (10 s to 25 s)
MAX_INDEXED_ITEMS = 30_000  # ~62 minutes: longer audio is indexed on its first hour (positions fit uint16)
MAX_POSTINGS = 25_000  # per term item: 25,000 x 12 bytes = 300 KB, under the 400 KB item limit
MAX_POSITIONS_PER_TERM = 64  # per audio and term item
BATCH_GET = 100
BATCH_WRITE = 25
THREADS = 8
CANDIDATES = 10  # snippet candidates rescored
VOTE_ITEMS = 32  # query items that look up postings: reads stay flat from 5 s to 30 s snippets
# The identify decision (`accepted`), chosen by `python -m bench.maps fingerprints --tune` (bench/maps/fingerprints.py
# `choose_rule`) on the bench's tune half only: 200 catalog + 100 unknown songs split by tune, the tune half rendered
# with FluidR3_GM / MuseScore_General in the tunes' own keys, white noise. docs/maps-fingerprint-bench.md reports them
# on the held-out half (TimGM6mb / sf_GMbank, which play none of the tune half's recordings that bench/maps/overlap.py
# compares; other keys, tempos, pink noise). Rerun the tuning and copy its numbers when the fingerprint, the index
# or the bench corpus changes.
MIN_SNIPPET_ITEMS = 14  # 1st percentile of the informative items of 5 s catalog snippets; fewer is mostly a fade or a rest
SNIPPET_BER_A = 0.431  # snippet_max_ber: min(CAP, A - B/sqrt(n)), through right answers' highest BER at 5 s (0.095:
SNIPPET_BER_B = 1.422  # other music's lowest is 0.062 there, so the margin decides) and the 10 s midpoint (0.102 / 0.386)
SNIPPET_BER_CAP = 0.269  # the 30 s midpoint (0.088 / 0.451)
MIN_BER_MARGIN = 0.07  # wrong answers' largest margin over the runner-up (0.059) + 0.01, rounded up
MIN_VOTES = 3  # a candidate needs this many agreeing items (after summing neighbouring offsets)
RESCORE_SLACK_ITEMS = 3
COPY_CONTEXT_ITEMS = 120  # ~15 s each side of the match: candidates that agree there too are copies of one recording
DUPLICATE_CANDIDATES = 5
DUPLICATE_MIN_TERMS = 3
DUPLICATE_MIN_COVERAGE = 0.8
DUPLICATE_MAX_OFFSET_ITEMS = 80  # +-10 s of trimmed silence or encoder delay between two copies

_POSTING = np.dtype([("ref", ">u8"), ("pos", ">u2"), ("low", ">u2")])
_WHOLE_POSTING = np.dtype([("ref", ">u8"), ("low", ">u2")])


@dataclass(frozen=True)
class IndexedAudio:
    """One indexed recording: a catalog song (kind "song", scope "public") or a library track (kind
    "track", scope its owner's userId). `stamp` orders versions of one audio (a track's claim time, ISO 8601):
    `add` never replaces an audio item stamped later, so a slow step for an older upload cannot put that
    recording back over the newer one's."""

    kind: str
    id: str
    scope: str
    title: str = ""
    artist: str = ""
    duration_seconds: float = 0.0
    stamp: str = ""


@dataclass(frozen=True)
class Match:
    """An indexed audio the query matched. score is 0..1 (1 identical); offset_seconds is where the query
    starts in the reference; bit_error_rate is the BER over the aligned items; speed is 1 unless the speed
    search found it."""

    kind: str
    id: str
    scope: str
    title: str
    artist: str
    score: float
    offset_seconds: float
    bit_error_rate: float
    speed: float = 1.0  # the query's speed against the reference's (1.02: it plays 2 % fast), by the speed search


@dataclass(frozen=True)
class Rescored:
    """A snippet's candidates before the decision: n_informative items of music (`fingerprints.informative`),
    every rescored candidate audio, one per audio, lowest BER first (threshold not applied), and
    runner_up_ber, the BER of the best candidate that is other music than the first (0.5 when none is):
    candidates whose fingerprint is within DUPLICATE_MAX_BER of the first's over the snippet and
    COPY_CONTEXT_ITEMS each side are copies of the same recording (a library track and the catalog song it
    came from), not rivals."""

    n_informative: int
    candidates: tuple[Match, ...]
    runner_up_ber: float = 0.5


def accepted(rescored: Rescored, *, min_items: int | None = None, ber_a: float | None = None,
             ber_b: float | None = None, ber_cap: float | None = None,
             min_margin: float | None = None) -> list[Match]:
    """The candidates identify answers with, best first, or [] (the keywords override the constants, for the
    bench's tuning only). A snippet is answered when it has at least MIN_SNIPPET_ITEMS informative items, its
    best candidate's BER passes `snippet_max_ber(n_informative)`, and the best other music scores at least
    MIN_BER_MARGIN worse (a faded ending or a held chord looks alike in many songs: several candidates then
    score about the same, and none of them is the answer). Every candidate that passes the threshold is
    returned (copies of one recording in the catalog and a library)."""
    if rescored.n_informative < (MIN_SNIPPET_ITEMS if min_items is None else min_items) or not rescored.candidates:
        return []
    limit = snippet_max_ber(rescored.n_informative, a=ber_a, b=ber_b, cap=ber_cap)
    top = rescored.candidates[0].bit_error_rate
    if top > limit or rescored.runner_up_ber - top < (MIN_BER_MARGIN if min_margin is None else min_margin):
        return []
    return [m for m in rescored.candidates if m.bit_error_rate <= limit]


def needs_speed_search(rescored: Rescored, answer: list[Match]) -> bool:
    """Whether identify goes on to the speed search: nothing was accepted, and the snippet had music enough to vote
    (a mostly silent one would be as silent at any speed)."""
    return not answer and rescored.n_informative >= MIN_SNIPPET_ITEMS


def speed_accepted(found: Iterable[tuple[float, Rescored]]) -> list[Match]:
    """The speed search's decision over (speed, Rescored) of each variant: `accepted` for each, and of those that
    answer, the one whose best candidate has the lowest BER, each match with that speed; [] when none answers."""
    best: list[Match] = []
    for speed, rescored in found:
        matches = accepted(rescored)
        if matches and (not best or matches[0].bit_error_rate < best[0].bit_error_rate):
            best = [replace(m, speed=speed) for m in matches]
    return best


def snippet_max_ber(n_items: int, *, a: float | None = None, b: float | None = None, cap: float | None = None) -> float:
    """The BER a snippet of n_items informative items must beat to count as a match: min(cap, a - b/sqrt(n)).

    Chance BER between unrelated music falls with more items (fewer bits to get lucky on), and the
    rescoring searches a few offsets of up to CANDIDATES songs picked because they share items, so the
    threshold is lower for short snippets. a, b and cap default to SNIPPET_BER_A/B/CAP, chosen on the
    bench's tune half (see there).
    """
    if n_items <= 0:
        return 0.0
    a = SNIPPET_BER_A if a is None else a
    b = SNIPPET_BER_B if b is None else b
    cap = SNIPPET_BER_CAP if cap is None else cap
    return float(min(cap, a - b / math.sqrt(n_items)))


def _clip(items: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(items, dtype=np.uint32)[:MAX_INDEXED_ITEMS])


def snippet_key(scope: str, term: int) -> str:
    """The snippet term item of a SNIPPET_KEY_BITS-bit term: s#{scope}#{5 hex digits}."""
    return term_key("s", scope, term, digits=(SNIPPET_KEY_BITS + 3) // 4)


def whole_window(n_items: int) -> tuple[int, int]:
    """Items AcoustID would query: 80..200, or a centred 120 items (all of them) for a shorter file."""
    start, stop = WHOLE_WINDOW
    if n_items >= stop:
        return start, stop
    width = min(n_items, stop - start)
    begin = max(0, (n_items - width) // 2)
    return begin, begin + width


def snippet_postings(ref: bytes, items: np.ndarray) -> dict[int, set[bytes]]:
    """term (top SNIPPET_KEY_BITS bits) -> 12-byte postings of one audio, at most MAX_POSITIONS_PER_TERM each."""
    items = _clip(items)
    terms = (items >> (32 - SNIPPET_KEY_BITS)).astype(np.int64)
    records = np.zeros(items.size, _POSTING)
    records["ref"] = int.from_bytes(ref, "big")
    records["pos"] = np.arange(items.size)
    records["low"] = items & 0xFFFF
    kept = np.flatnonzero(informative(items))  # silence items match every song's silence: not indexed
    kept = kept[np.argsort(terms[kept], kind="stable")]  # by term, then position
    unique, starts, counts = np.unique(terms[kept], return_index=True, return_counts=True)
    if counts.size and counts.max() > MAX_POSITIONS_PER_TERM:  # keep a spread of a held chord's positions
        keep = np.ones(kept.size, bool)
        for start, count in zip(starts[counts > MAX_POSITIONS_PER_TERM].tolist(),
                                counts[counts > MAX_POSITIONS_PER_TERM].tolist(), strict=True):
            keep[start:start + count] = False
            keep[start + np.linspace(0, count - 1, MAX_POSITIONS_PER_TERM).astype(np.int64)] = True
        kept = kept[keep]
        unique, starts, counts = np.unique(terms[kept], return_index=True, return_counts=True)
    raw = records.tobytes()
    size = _POSTING.itemsize
    chunks = [raw[p * size:(p + 1) * size] for p in kept.tolist()]
    return {term: set(chunks[start:start + count])
            for term, start, count in zip(unique.tolist(), starts.tolist(), counts.tolist(), strict=True)}


def whole_postings(ref: bytes, items: np.ndarray) -> dict[int, set[bytes]]:
    """term (top KEY_BITS bits) -> 10-byte postings ref + bits 4..15 of the window's items."""
    items = _clip(items)
    begin, end = whole_window(items.size)
    window = items[begin:end]
    out: dict[int, set[bytes]] = defaultdict(set)
    for item in window.tolist():
        low = (item >> (32 - WHOLE_TERM_BITS)) & ((1 << (WHOLE_TERM_BITS - KEY_BITS)) - 1)
        out[item >> (32 - KEY_BITS)].add(ref + low.to_bytes(2, "big"))
    return out


@dataclass(frozen=True)
class _Query:
    """A snippet's items as identify votes with them: `mask` its informative items (`fingerprints.informative`),
    `terms` the term of each voting item (up to VOTE_ITEMS, spread over the snippet; 1 << SNIPPET_KEY_BITS, no term,
    for the rest) and `unique_terms` theirs once each."""

    items: np.ndarray
    mask: np.ndarray
    n_informative: int
    terms: np.ndarray
    unique_terms: tuple[int, ...]

    @classmethod
    def of(cls, items: np.ndarray) -> _Query:
        """No terms when the snippet has too little music to vote (under MIN_SNIPPET_ITEMS informative items:
        mostly silence or a fade): its Rescored keeps the count and has no candidates."""
        query = _clip(items)
        mask = informative(query) if query.size else np.zeros(0, bool)
        n_informative = int(mask.sum())
        voters = np.flatnonzero(mask)
        if voters.size > VOTE_ITEMS:  # a spread of the snippet votes; all of it is rescored
            voters = voters[np.linspace(0, voters.size - 1, VOTE_ITEMS).astype(np.int64)]
        voting = np.zeros(query.size, bool)
        voting[voters] = True
        terms = np.where(voting, query >> (32 - SNIPPET_KEY_BITS), np.uint32(1 << SNIPPET_KEY_BITS)).astype(np.int64)
        unique_terms = tuple(np.unique(terms[voting]).tolist()) if n_informative >= MIN_SNIPPET_ITEMS else ()
        return cls(query, mask, n_informative, terms, unique_terms)


class FingerprintIndex:
    """Add, remove and look up fingerprints; see the module docstring for the item layout."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self.client = dynamodb_client
        self.table = table_name

    # ------------------------------------------------------------------ writes
    def add(self, audio: IndexedAudio, items: np.ndarray) -> bool:
        """Index one audio. Idempotent: the audio item is put whole, postings are ADDed to sets. False (nothing
        written) when the audio is already indexed from a later version (a later `stamp`)."""
        items = _clip(items)
        ref = audio_ref(audio.scope, audio.kind, audio.id)
        put: dict[str, Any] = {"TableName": self.table, "Item": self._audio_item(ref, audio, items)}
        if audio.stamp:
            put.update(ConditionExpression="attribute_not_exists(#st) OR #st <= :st",
                       ExpressionAttributeNames={"#st": "st"}, ExpressionAttributeValues={":st": {"S": audio.stamp}})
        try:
            self.client.put_item(**put)
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        updates = [(snippet_key(audio.scope, t), p) for t, p in snippet_postings(ref, items).items()]
        updates += [(term_key("w", audio.scope, t), p) for t, p in whole_postings(ref, items).items()]
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda update: self._add_postings(*update), updates))
        return True

    def bulk_add(self, entries: Iterable[tuple[IndexedAudio, np.ndarray]], *, merge: bool = True) -> None:
        """Index many audios at once: postings are merged per term item in memory and written with
        BatchWriteItem (a term item once, not once per audio). Same layout as `add`.

        With merge (the default) the term items already in the table are read first and kept, so this is
        safe on a live table; merge=False skips that read and OVERWRITES the term items it writes: only
        for loading an empty table (a catalog import, the bench).
        """
        terms: dict[str, set[bytes]] = defaultdict(set)
        audio_items = []
        for audio, raw_items in entries:
            items = _clip(raw_items)
            ref = audio_ref(audio.scope, audio.kind, audio.id)
            audio_items.append(self._audio_item(ref, audio, items))
            for term, postings in snippet_postings(ref, items).items():
                terms[snippet_key(audio.scope, term)] |= postings
            for term, postings in whole_postings(ref, items).items():
                terms[term_key("w", audio.scope, term)] |= postings
        stopped: set[str] = set()
        if merge:
            for key, item in self._batch_get(list(terms)).items():
                if "stop" in item:
                    stopped.add(key)
                else:
                    terms[key] |= set(item.get("p", {}).get("BS", []))
        puts = list(audio_items)
        for key, postings in terms.items():
            if key in stopped or len(postings) > MAX_POSTINGS:
                puts.append({"pk": {"S": key}, "stop": {"BOOL": True}})
            else:
                puts.append({"pk": {"S": key}, "p": {"BS": sorted(postings)}})
        self._batch_write([{"PutRequest": {"Item": item}} for item in puts])

    def remove(self, audio: IndexedAudio, items: np.ndarray) -> None:
        """Take an audio out of the index (track deleted, account erased). The postings removed are those of
        the fingerprint stored with the audio when there is one (what `add` indexed), else of `items`."""
        ref = audio_ref(audio.scope, audio.kind, audio.id)
        stored = self._batch_get([audio_key(ref)]).get(audio_key(ref))
        indexed = from_bytes(stored["fp"]["B"]) if stored and "fp" in stored else _clip(items)
        updates = [(snippet_key(audio.scope, t), p) for t, p in snippet_postings(ref, indexed).items()]
        updates += [(term_key("w", audio.scope, t), p) for t, p in whole_postings(ref, indexed).items()]
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda update: self._delete_postings(*update), updates))
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": audio_key(ref)}})

    # ------------------------------------------------------------------ reads
    def identify(self, items: np.ndarray, scopes: Sequence[str]) -> list[Match]:
        """Songs/tracks in `scopes` that the snippet `items` comes from, best first; [] when none passes
        `accepted` (see there for the rule)."""
        return accepted(self.rescore(items, scopes))

    def rescore(self, items: np.ndarray, scopes: Sequence[str]) -> Rescored:
        """Everything identify decides on, before the decision: the snippet's informative items and its
        best-voted candidates rescored by BER (the bench tunes `accepted` on these, so the numbers it
        chooses are the ones identify applies)."""
        return self.rescore_variants([items], scopes)[0]

    def identify_speeds(self, variants: Sequence[tuple[float, np.ndarray]], scopes: Sequence[str]) -> list[Match]:
        """The speed search, for a snippet `identify` found nothing for: `variants` are (speed, items), its
        fingerprints as if it had been played at each speed (`fingerprints.speed_variants`). Each is rescored
        (their reads together, `rescore_variants`) and decided by `accepted`, the rule a plain snippet meets; the
        answer is the accepted variant whose best candidate has the lowest BER, each match with that speed, or []. Sixteen
        tries give chance sixteen times the room, yet on the bench's tune half the lowest BER of other music over
        all of them stays above the rule's thresholds at each length (random offsets; songs' endings, which score
        as low as right answers in plain queries too, are refused by the margin; docs/maps-fingerprint-bench.md
        prints both), so the rule needs no stricter form here."""
        found = self.rescore_variants([items for _, items in variants], scopes)
        return speed_accepted([(speed, rescored) for (speed, _), rescored in zip(variants, found, strict=True)])

    def rescore_variants(self, variants: Sequence[np.ndarray], scopes: Sequence[str]) -> list[Rescored]:
        """`rescore` of each of several queries (one snippet's speed variants), their term items read in one
        `_batch_get` and their candidates' audio items in another, so a term or an audio two variants share is
        read once. Sixteen variants read up to 16 x VOTE_ITEMS term items a scope (they share few): at the bench's
        10,000 entries a term item holds a median 210 postings (2.5 KB), so a few MB."""
        scopes = list(dict.fromkeys(scopes))
        if not scopes:
            return [Rescored(0, ()) for _ in variants]
        queries = [_Query.of(items) for items in variants]
        unique_terms = sorted({t for q in queries for t in q.unique_terms})
        found = self._batch_get([snippet_key(scope, t) for scope in scopes for t in unique_terms])
        by_term: dict[int, list[bytes]] = defaultdict(list)
        for key, item in found.items():
            if "p" in item:
                by_term[int(key.rsplit("#", 1)[1], 16)].extend(item["p"]["BS"])
        voted = [self._vote(q.items, q.terms, {t: by_term[t] for t in q.unique_terms if t in by_term}) for q in queries]
        audios = self._batch_get(list(dict.fromkeys(audio_key(ref) for candidates in voted for ref, _, _ in candidates)))
        return [self._ranked(q, candidates, audios, scopes) if candidates else Rescored(q.n_informative, ())
                for q, candidates in zip(queries, voted, strict=True)]

    @staticmethod
    def _ranked(query: _Query, candidates: list[tuple[bytes, int, int]], audios: dict[str, dict[str, Any]],
                scopes: Sequence[str]) -> Rescored:
        """The voted candidates rescored over the whole query at the best offset near their vote, one per audio,
        lowest BER first, with the runner-up that is other music (see Rescored)."""
        min_overlap = max(1, math.ceil(0.8 * query.n_informative))
        best: dict[str, Match] = {}
        windows: dict[str, np.ndarray] = {}  # the reference items each candidate lays under the query
        for ref, offset, _votes in candidates:
            audio = audios.get(audio_key(ref))
            if audio is None or audio["scope"]["S"] not in scopes:
                continue
            reference = from_bytes(audio["fp"]["B"])
            alignment = best_alignment(query.items, reference, max_offset_items=RESCORE_SLACK_ITEMS,
                                       center_offset_items=offset, min_overlap_items=min_overlap, query_mask=query.mask)
            if alignment.overlap_items == 0:
                continue
            match = _match(audio, alignment.bit_error_rate, alignment.offset_items)
            key = audio_key(ref)
            if key not in best or match.bit_error_rate < best[key].bit_error_rate:
                best[key] = match
                windows[key] = _window(reference, alignment.offset_items - COPY_CONTEXT_ITEMS,
                                       query.items.size + 2 * COPY_CONTEXT_ITEMS)
        ranked = sorted(best, key=lambda k: best[k].bit_error_rate)
        runner_up = 0.5
        if ranked:
            top = windows[ranked[0]]
            for key in ranked[1:]:  # the best candidate that is other music, not a copy of the top one
                if _window_ber(top, windows[key]) > DUPLICATE_MAX_BER:
                    runner_up = best[key].bit_error_rate
                    break
        return Rescored(query.n_informative, tuple(best[k] for k in ranked), runner_up)

    def find_duplicates(self, items: np.ndarray, scopes: Sequence[str], *,
                        exclude: tuple[str, str] | None = None) -> list[Match]:
        """Whole tracks in `scopes` that hold the same recording as `items` (any encoding), best first.
        `exclude` = (kind, id) of the upload itself, which may already be indexed."""
        query = _clip(items)
        if query.size == 0 or not scopes:
            return []
        begin, end = whole_window(query.size)
        window = query[begin:end]
        keys_hi = (window >> (32 - KEY_BITS)).tolist()
        lows = ((window >> (32 - WHOLE_TERM_BITS)) & ((1 << (WHOLE_TERM_BITS - KEY_BITS)) - 1)).tolist()
        wanted: dict[int, set[int]] = defaultdict(set)
        for hi, low in zip(keys_hi, lows, strict=True):
            wanted[hi].add(low)
        scope_list = list(dict.fromkeys(scopes))
        found = self._batch_get([term_key("w", s, hi) for s in scope_list for hi in wanted])
        excluded = {audio_ref(s, *exclude) for s in scope_list} if exclude else set()
        counts: dict[bytes, int] = defaultdict(int)
        for key, item in found.items():
            hi = int(key.rsplit("#", 1)[1], 16)
            for posting in item.get("p", {}).get("BS", []):
                ref, low = posting[:8], int.from_bytes(posting[8:10], "big")
                if low in wanted[hi] and ref not in excluded:
                    counts[ref] += 1
        ranked = sorted((r for r, c in counts.items() if c >= DUPLICATE_MIN_TERMS), key=lambda r: -counts[r])
        ranked = ranked[:DUPLICATE_CANDIDATES]
        audios = self._batch_get([audio_key(ref) for ref in ranked])
        matches = []
        for ref in ranked:
            audio = audios.get(audio_key(ref))
            if audio is None or audio["scope"]["S"] not in scopes:
                continue
            reference = from_bytes(audio["fp"]["B"])
            alignment = best_alignment(query, reference, max_offset_items=DUPLICATE_MAX_OFFSET_ITEMS)
            coverage = alignment.overlap_items / max(query.size, reference.size)
            if alignment.bit_error_rate <= DUPLICATE_MAX_BER and coverage >= DUPLICATE_MIN_COVERAGE:
                match = _match(audio, alignment.bit_error_rate, alignment.offset_items)
                matches.append(Match(**{**match.__dict__, "score": similarity(alignment.bit_error_rate) * coverage}))
        return sorted(matches, key=lambda m: (m.bit_error_rate, -m.score))

    # ------------------------------------------------------------------ voting
    @staticmethod
    def _vote(query: np.ndarray, terms: np.ndarray, by_term: dict[int, list[bytes]]) -> list[tuple[bytes, int, int]]:
        """(ref, offset, votes) of the best-voted placements, at most CANDIDATES, one per audio and offset."""
        refs_parts, offsets_parts = [], []
        shift = 16 - max(0, SNIPPET_VOTE_BITS - SNIPPET_KEY_BITS)  # vote bits the key does not hold (none now)
        query_low = (query & 0xFFFF) >> shift
        positions_of: dict[int, np.ndarray] = defaultdict(lambda: np.empty(0, np.int64))
        for term in by_term:
            positions_of[term] = np.flatnonzero(terms == term)
        for term, postings in by_term.items():
            records = np.frombuffer(b"".join(postings), dtype=_POSTING)
            low = records["low"].astype(np.uint32) >> shift
            pos = records["pos"].astype(np.int64)
            for i in positions_of[term].tolist():
                hit = low == query_low[i]
                if hit.any():
                    refs_parts.append(records["ref"][hit].astype(np.uint64))
                    offsets_parts.append(pos[hit] - i)
        if not refs_parts:
            return []
        refs = np.concatenate(refs_parts)
        offsets = np.concatenate(offsets_parts)
        unique_refs, ref_index = np.unique(refs, return_inverse=True)
        bias = 1 << 20
        cells = ref_index.astype(np.int64) * (bias * 2) + (offsets + bias)
        cell_ids, counts = np.unique(cells, return_counts=True)
        # sum each cell with its neighbours (offset +-1): a snippet starts anywhere within an item
        smoothed = counts.copy()
        for step in (-1, 1):
            where = np.searchsorted(cell_ids, cell_ids + step)
            inside = where < cell_ids.size
            same = np.zeros(cell_ids.size, bool)
            same[inside] = cell_ids[where[inside]] == cell_ids[inside] + step
            smoothed[same] += counts[where[same]]
        order = np.argsort(-smoothed, kind="stable")
        out: list[tuple[bytes, int, int]] = []
        taken: set[tuple[int, int]] = set()
        for index in order.tolist():
            votes = int(smoothed[index])
            if votes < MIN_VOTES or len(out) >= CANDIDATES:
                break
            ref_i, offset = divmod(int(cell_ids[index]), bias * 2)
            offset -= bias
            if any((ref_i, offset + d) in taken for d in range(-RESCORE_SLACK_ITEMS, RESCORE_SLACK_ITEMS + 1)):
                continue
            taken.add((ref_i, offset))
            out.append((int(unique_refs[ref_i]).to_bytes(8, "big"), offset, votes))
        return out

    # ------------------------------------------------------------------ DynamoDB
    @staticmethod
    def _audio_item(ref: bytes, audio: IndexedAudio, items: np.ndarray) -> dict[str, Any]:
        return {
            "pk": {"S": audio_key(ref)},
            "kind": {"S": audio.kind},
            "id": {"S": audio.id},
            "scope": {"S": audio.scope},
            "title": {"S": audio.title},
            "artist": {"S": audio.artist},
            "durationSeconds": {"N": str(Decimal(str(round(float(audio.duration_seconds), 3))))},
            "items": {"N": str(int(items.size))},
            "fp": {"B": to_bytes(items)},
            **({"st": {"S": audio.stamp}} if audio.stamp else {}),
        }

    def _add_postings(self, key: str, postings: set[bytes]) -> None:
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}},
                UpdateExpression="ADD #p :new",
                ConditionExpression="attribute_not_exists(#stop) AND (attribute_not_exists(#p) OR size(#p) <= :room)",
                ExpressionAttributeNames={"#p": "p", "#stop": "stop"},
                ExpressionAttributeValues={":new": {"BS": sorted(postings)},
                                           ":room": {"N": str(MAX_POSTINGS - len(postings))}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            current = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})
            if "stop" in current or postings <= set(current.get("p", {}).get("BS", [])):
                return  # already a stop term, or a replay that would add nothing
            self.client.update_item(TableName=self.table, Key={"pk": {"S": key}},
                                    UpdateExpression="SET #stop = :yes REMOVE #p",
                                    ExpressionAttributeNames={"#p": "p", "#stop": "stop"},
                                    ExpressionAttributeValues={":yes": {"BOOL": True}})

    def _delete_postings(self, key: str, postings: set[bytes]) -> None:
        self.client.update_item(TableName=self.table, Key={"pk": {"S": key}}, UpdateExpression="DELETE #p :gone",
                                ExpressionAttributeNames={"#p": "p"},
                                ExpressionAttributeValues={":gone": {"BS": sorted(postings)}})

    def _batch_get(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """pk -> item for the keys that exist; chunks of 100 in parallel, unprocessed keys retried."""
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i:i + BATCH_GET] for i in range(0, len(unique), BATCH_GET)]
        if not chunks:
            return {}
        if len(chunks) == 1:
            return self._get_chunk(chunks[0])
        out: dict[str, dict[str, Any]] = {}
        with ThreadPoolExecutor(min(THREADS, len(chunks))) as pool:
            for part in pool.map(self._get_chunk, chunks):
                out.update(part)
        return out

    def _get_chunk(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {"Keys": [{"pk": {"S": k}} for k in keys]}}
        for attempt in range(8):
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table, []):
                out[item["pk"]["S"]] = item
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return out
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError(f"DynamoDB left {len(request[self.table]['Keys'])} keys unprocessed after 8 tries")

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        chunks = [requests[i:i + BATCH_WRITE] for i in range(0, len(requests), BATCH_WRITE)]
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(self._write_chunk, chunks))

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {self.table: chunk}
        for attempt in range(8):
            answer = self.client.batch_write_item(RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError(f"DynamoDB left {len(request[self.table])} writes unprocessed after 8 tries")


def _window(reference: np.ndarray, offset: int, n: int) -> np.ndarray:
    """reference[offset:offset + n] as int64, -1 where the window runs off the reference."""
    out = np.full(n, -1, np.int64)
    start, stop = max(0, offset), min(reference.size, offset + n)
    if start < stop:
        out[start - offset:stop - offset] = reference[start:stop]
    return out


def _window_ber(a: np.ndarray, b: np.ndarray) -> float:
    """BER between two candidates' reference windows where both have items: two copies of one recording (a
    track and the catalog song) score near 0 over the whole window, other music near 0.5 (two songs that
    end on the same groove agree under the snippet, not in the 15 s before it)."""
    both = (a >= 0) & (b >= 0)
    if not both.any():
        return 0.5
    diff = a[both].astype(np.uint32) ^ b[both].astype(np.uint32)
    return float(np.bitwise_count(diff).sum() / (32 * int(both.sum())))


def _match(audio: dict[str, Any], bit_error_rate: float, offset_items: int) -> Match:
    return Match(kind=audio["kind"]["S"], id=audio["id"]["S"], scope=audio["scope"]["S"],
                 title=audio.get("title", {}).get("S", ""), artist=audio.get("artist", {}).get("S", ""),
                 score=similarity(bit_error_rate), offset_seconds=offset_items * ITEM_SECONDS,
                 bit_error_rate=bit_error_rate)
