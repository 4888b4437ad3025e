"""Typo-tolerant song search over titles and artists: the index artifact, its loader and the scorer.

The artifact indexes PUBLIC songs only. It is rebuilt whenever the public catalog changes, kept in S3
and loaded once per cold start (`SearchIndex.from_bytes`). A caller's private songs (a few per user)
come from the owner index and are passed to `SearchIndex.search` as `extra`. The same scorer ranks
them in memory, and they are merged into the same ranking.

Scoring (`score_entry`; every score is 0-100, rounded to 0.1):
  - Text is normalised (`normalize`): accents are stripped (NFKD), the text is case-folded, "&" becomes
    "and", apostrophes are dropped ("don't" -> "dont") and other punctuation becomes spaces.
  - Each query word is matched to the best word of the song's title and artist (`word_similarity`):
    exact 100; within `allowed_typos` OSA edits (a transposition is one edit):
    100 * (1 - edits / longer length); a prefix of at least MIN_PREFIX_CHARS characters ("bohem"):
    PREFIX_FLOOR + (100 - PREFIX_FLOOR) * prefix length / word length.
  - coverage = the mean of those matches, weighted by query word length. It does not depend on word
    order, and it covers title, artist and mixed title-and-artist queries.
  - whole = how close the query is to the whole title, the artist, or "title artist"
    (rapidfuzz `ratio`, or `token_sort_ratio` minus WORD_ORDER_PENALTY for another word order).
    This ranks exact matches first.
  - score = COVERAGE_WEIGHT * coverage + WHOLE_WEIGHT * whole. Hits below MIN_SCORE are not returned.
    Ties are broken by normalised title, then song_id.

Design, and why (measured with bench/blend/search_speed.py: 100,000 synthetic songs, 33,877 distinct
words, 500 queries mixing exact, typo, prefix, title-and-artist, artist and reordered queries, limit 20,
5 private extras; on a shared 2-vCPU development machine with a load average of 2-5, so the ranges
cover several runs):
  - The artifact is a compact format of its own: zlib-compressed (level 6) JSON string columns (ids,
    display and normalised titles and artists, and the sorted vocabulary), plus each vocabulary word's
    postings (song positions) as little-endian uint32 CSR arrays. Songs are stored in tie-break order
    (normalised title, song_id). Measured: build 3.3-4.0 s (1.2-1.7 s of it zlib), 4.3 MB, load
    0.17-0.24 s (a fresh process: 0.15 s to import this module with numpy and rapidfuzz, then 0.17 s to
    load; 97 MB peak RSS). Query latency: p50 3-7 ms, p95 7-15 ms, max 14-33 ms. With 41,500 distinct
    words, p95 was 11 ms.
  - Candidate generation runs per query word over the vocabulary, not the songs. Typos are found by
    rapidfuzz's OSA distance with a score cutoff, run only on length buckets within the allowed edits.
    Prefixes are found by bisecting the sorted vocabulary. A numpy max-scatter over the postings then
    gives every song's exact coverage. The length-only upper bound of `whole` (an indel ratio cannot
    exceed 2*min(len)/(sum of lens)) gives each song a score bound. Songs are scored exactly in
    bound order, and scoring stops as soon as no remaining song can enter the requested page
    (threshold top-k). So the first page of "love" scores 32 of the 2,942 songs that contain it (for
    "the", 320 of 41,269), and pages by offset are exact and consistent.
  - Rejected: an SQLite FTS5 trigram index (`Connection.serialize()`). Measured on the bench catalog:
    build 1.8-3.1 s, 43 MB, deserialize 0.03 s. But a typo-tolerant MATCH has to OR the query's
    trigrams. Common trigrams ("the", "ove") match tens of thousands of rows, and the rapidfuzz
    re-rank of the best 500 still makes p50 60-140 ms and p95 170-440 ms for the same queries. A
    trigram MATCH also misses prefixes and words shorter than 3 characters.

The query must contain a letter or a digit: a blank query raises ValueError, and the API maps that
to 400 (listing the catalog is not search's job). Very long queries (MAX_QUERY_CHARS, MAX_QUERY_WORDS)
also raise ValueError, which bounds the latency. Scoring cost grows with offset + limit, so the API
should cap `limit`.
"""

from __future__ import annotations

import bisect
import heapq
import json
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

MIN_SCORE = 60.0  # hits scoring below this are not returned (an irrelevant query returns no hits)
COVERAGE_WEIGHT = 0.8  # share of the score from matched query words
WHOLE_WEIGHT = 0.2  # share of the score from how close the query is to the whole title/artist
PREFIX_FLOOR = 70.0  # word score of the shortest useful prefix of a long word
MIN_PREFIX_CHARS = 3  # shorter query words match whole words only (exactly)
WORD_ORDER_PENALTY = 2.0  # same words in another order rank just below the exact order
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10
FORMAT_MAGIC = b"SCBLND1\n"  # artifact format version 1
ZLIB_LEVEL = 6
_HEADER = struct.Struct("<III")  # metadata length in bytes, offsets count, postings count
_SCORE_CHUNK = 32  # songs scored between two checks of the top-k stopping rule
_BOUND_SLACK = 1e-6  # keeps the numpy upper bound above rapidfuzz's float arithmetic
_APOSTROPHES = re.compile("['\u2018\u2019`\u00b4]")
_NOT_WORD = re.compile(r"[\W_]+")
_LAST_CHAR = "\U0010ffff"


@dataclass(frozen=True)
class SearchEntry:
    """One song as search sees it: display title and artist, and the id the API returns."""

    song_id: str
    title: str
    artist: str


@dataclass(frozen=True)
class SearchHit:
    """A song found by a query, with its relevance score (0-100, MIN_SCORE or more)."""

    song_id: str
    title: str
    artist: str
    score: float


@dataclass(frozen=True)
class SearchPage:
    """One page of hits, best first; `next_offset` is the offset of the next page, None after the last."""

    hits: tuple[SearchHit, ...]
    next_offset: int | None

    @property
    def has_more(self) -> bool:
        return self.next_offset is not None


@dataclass(frozen=True)
class _Query:
    text: str  # normalised query
    words: tuple[str, ...]
    weight: int  # sum of word lengths (coverage weights)


def normalize(text: str) -> str:
    """Lower-case words without accents or punctuation, one space apart ("Beyoncé & Jay-Z" -> "beyonce and jay z")."""
    text = _APOSTROPHES.sub("", text)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", text.casefold().replace("&", " and ")).split())


def allowed_typos(word_length: int) -> int:
    """Edits (OSA: insert, delete, substitute, transpose) a query word of this length may contain."""
    if word_length <= 2:
        return 0
    return 1 if word_length <= 5 else 2


def word_similarity(query_word: str, word: str) -> float:
    """0-100: how well one normalised query word matches one normalised song word (0 = no match)."""
    best = 0.0
    limit = allowed_typos(len(query_word))
    edits = OSA.distance(query_word, word, score_cutoff=limit)
    if edits <= limit:
        best = 100.0 * (1 - edits / max(len(query_word), len(word)))
    if len(query_word) >= MIN_PREFIX_CHARS and word.startswith(query_word):
        best = max(best, PREFIX_FLOOR + (100.0 - PREFIX_FLOOR) * len(query_word) / len(word))
    return best


def score_entry(query: str, entry: SearchEntry) -> float:
    """The score `SearchIndex.search` gives `entry` for `query` (0 when no query word matches)."""
    return _score_normalized(_parse_query(query), normalize(entry.title), normalize(entry.artist))


def build_index(entries: Iterable[SearchEntry]) -> bytes:
    """The search artifact for these (public) songs; the same songs in any order give the same bytes.

    Raises ValueError when two entries share a song_id.
    """
    rows: list[tuple[str, str, SearchEntry, str]] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.song_id in seen:
            raise ValueError(f"duplicate song_id in the search catalog: {entry.song_id!r}")
        seen.add(entry.song_id)
        rows.append((normalize(entry.title), entry.song_id, entry, normalize(entry.artist)))
    rows.sort(key=itemgetter(0, 1))
    songs_by_word: dict[str, list[int]] = {}
    for position, (norm_title, _, _, norm_artist) in enumerate(rows):
        for word in set(norm_title.split()) | set(norm_artist.split()):
            songs_by_word.setdefault(word, []).append(position)
    words = sorted(songs_by_word)
    counts = np.fromiter((len(songs_by_word[word]) for word in words), dtype=np.int64, count=len(words))
    offsets = np.zeros(len(words) + 1, dtype="<u4")
    np.cumsum(counts, out=offsets[1:])
    postings = np.fromiter(
        (position for word in words for position in songs_by_word[word]), dtype="<u4", count=int(offsets[-1])
    )
    metadata = {
        "song_ids": [row[1] for row in rows],
        "titles": [row[2].title for row in rows],
        "artists": [row[2].artist for row in rows],
        "norm_titles": [row[0] for row in rows],
        "norm_artists": [row[3] for row in rows],
        "words": words,
    }
    meta_bytes = json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode()
    body = _HEADER.pack(len(meta_bytes), offsets.size, postings.size) + meta_bytes + offsets.tobytes() + postings.tobytes()
    return FORMAT_MAGIC + zlib.compress(body, ZLIB_LEVEL)


class SearchIndex:
    """The loaded artifact: public songs, searchable by `search`."""

    def __init__(
        self,
        *,
        song_ids: list[str],
        titles: list[str],
        artists: list[str],
        norm_titles: list[str],
        norm_artists: list[str],
        words: list[str],
        offsets: NDArray[np.int64],
        postings: NDArray[np.intp],
    ) -> None:
        """Use `from_bytes`; songs are in tie-break order and `words` sorted, as `build_index` writes them."""
        self._song_ids = song_ids
        self._titles = titles
        self._artists = artists
        self._norm_titles = norm_titles
        self._norm_artists = norm_artists
        self._words = words
        self._offsets = offsets
        self._postings = postings
        count = len(song_ids)
        self._title_lengths = np.fromiter(map(len, norm_titles), dtype=np.float64, count=count)
        self._artist_lengths = np.fromiter(map(len, norm_artists), dtype=np.float64, count=count)
        self._combined_lengths = (
            self._title_lengths + self._artist_lengths + (self._title_lengths > 0) * (self._artist_lengths > 0)
        )
        self._word_lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self._buckets = _length_buckets(words)

    @classmethod
    def from_bytes(cls, data: bytes) -> SearchIndex:
        """Load an artifact written by `build_index`; ValueError if it is not one."""
        if not data.startswith(FORMAT_MAGIC):
            raise ValueError("not a Blend search index (or another format version)")
        try:
            body = zlib.decompress(data[len(FORMAT_MAGIC) :])
            meta_length, offsets_count, postings_count = _HEADER.unpack_from(body)
            meta_end = _HEADER.size + meta_length
            metadata = json.loads(body[_HEADER.size : meta_end])
            offsets = np.frombuffer(body, dtype="<u4", count=offsets_count, offset=meta_end).astype(np.int64)
            postings = np.frombuffer(body, dtype="<u4", count=postings_count, offset=meta_end + 4 * offsets_count)
            columns = [metadata[name] for name in ("song_ids", "titles", "artists", "norm_titles", "norm_artists")]
            words = metadata["words"]
        except (zlib.error, struct.error, ValueError, KeyError, TypeError) as exc:
            raise ValueError("corrupt Blend search index") from exc
        songs = len(columns[0])
        if (
            any(len(column) != songs for column in columns)
            or offsets.size != len(words) + 1
            or offsets[-1] != postings.size
            or (postings.size and int(postings.max()) >= songs)
        ):
            raise ValueError("corrupt Blend search index: its columns do not agree")
        song_ids, titles, artists, norm_titles, norm_artists = columns
        return cls(
            song_ids=song_ids,
            titles=titles,
            artists=artists,
            norm_titles=norm_titles,
            norm_artists=norm_artists,
            words=words,
            offsets=offsets,
            postings=postings.astype(np.intp),
        )

    @classmethod
    def from_entries(cls, entries: Iterable[SearchEntry]) -> SearchIndex:
        """An index of these songs without S3, for example a caller's private songs before the first
        artifact exists. Meant for small lists: `build_index` is the path for the catalog."""
        return cls.from_bytes(build_index(entries))

    def __len__(self) -> int:
        return len(self._song_ids)

    def search(self, query: str, limit: int, offset: int = 0, extra: Sequence[SearchEntry] = ()) -> SearchPage:
        """Hits `offset` to `offset + limit` (best first) among the index's songs and `extra`.

        `extra` is the caller's private songs, scored by the same scorer and merged into the ranking.
        An extra entry whose song_id is also in the index replaces the indexed song (the extra is
        fresher). If two extra entries share a song_id, the first one wins. Raises ValueError for a
        blank or too long query, limit < 1 or offset < 0.
        """
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got limit={limit}, offset={offset}")
        parsed = _parse_query(query)
        ranked: list[tuple[tuple[float, str, str], SearchHit]] = []
        extra_ids: set[str] = set()
        for entry in extra:
            if entry.song_id in extra_ids:
                continue
            extra_ids.add(entry.song_id)
            norm_title = normalize(entry.title)
            score = _score_normalized(parsed, norm_title, normalize(entry.artist))
            if score >= MIN_SCORE:
                hit = SearchHit(entry.song_id, entry.title, entry.artist, score)
                ranked.append(((-score, norm_title, entry.song_id), hit))
        self._rank_indexed(parsed, offset + limit + 1, extra_ids, ranked)
        ranked.sort(key=itemgetter(0))
        end = offset + limit
        return SearchPage(tuple(hit for _, hit in ranked[offset:end]), end if len(ranked) > end else None)

    def _rank_indexed(
        self, query: _Query, wanted: int, skip_ids: set[str], ranked: list[tuple[tuple[float, str, str], SearchHit]]
    ) -> None:
        """Add to `ranked` every indexed song that could be among the best `wanted` (threshold top-k)."""
        if not self._song_ids:
            return
        coverage = self._coverage(query)
        covered = np.flatnonzero(coverage > 0)
        bound = COVERAGE_WEIGHT * coverage[covered] + WHOLE_WEIGHT * self._whole_bound(len(query.text), covered)
        bound += _BOUND_SLACK
        keep = bound >= MIN_SCORE - 0.05
        candidates, bound = covered[keep], bound[keep]
        by_bound = np.lexsort((candidates, -bound))  # songs are stored in tie-break order
        order, bounds = candidates[by_bound].tolist(), bound[by_bound].tolist()
        for start in range(0, len(order), _SCORE_CHUNK):
            if len(ranked) >= wanted:
                kth_key = heapq.nsmallest(wanted, ranked, key=itemgetter(0))[-1][0]
                best = order[start]  # the bound-sorted rest cannot beat this one's best possible key
                if (-round(bounds[start], 1), self._norm_titles[best], self._song_ids[best]) > kth_key:
                    return
            for position in order[start : start + _SCORE_CHUNK]:
                song_id = self._song_ids[position]
                if song_id in skip_ids:
                    continue
                whole = _whole_similarity(query.text, self._norm_titles[position], self._norm_artists[position])
                score = round(COVERAGE_WEIGHT * float(coverage[position]) + WHOLE_WEIGHT * whole, 1)
                if score >= MIN_SCORE:
                    hit = SearchHit(song_id, self._titles[position], self._artists[position], score)
                    ranked.append(((-score, self._norm_titles[position], song_id), hit))

    def _coverage(self, query: _Query) -> NDArray[np.float64]:
        """Every indexed song's coverage, exactly as `_score_normalized` computes it for one song."""
        total = np.zeros(len(self._song_ids))
        for query_word in query.words:
            word_ids, similarities = self._matching_words(query_word)
            if not word_ids.size:
                continue
            starts, ends = self._offsets[word_ids], self._offsets[word_ids + 1]
            counts = ends - starts
            ramp = np.arange(int(counts.sum())) + np.repeat(starts - np.cumsum(counts) + counts, counts)
            best = np.zeros(len(self._song_ids))
            np.maximum.at(best, self._postings[ramp], np.repeat(similarities, counts))
            total += len(query_word) * best
        return total / query.weight

    def _matching_words(self, query_word: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Vocabulary words with a nonzero `word_similarity` to `query_word`, and those similarities."""
        length = len(query_word)
        limit = allowed_typos(length)
        ids: list[int] = []
        similarities: list[float] = []
        if limit == 0:
            position = bisect.bisect_left(self._words, query_word)
            if position < len(self._words) and self._words[position] == query_word:
                ids.append(position)
                similarities.append(100.0)
        else:
            for word_length in range(max(1, length - limit), length + limit + 1):
                bucket_words, bucket_ids = self._buckets.get(word_length, ([], []))
                for _, edits, index in process.extract(
                    query_word, bucket_words, scorer=OSA.distance, score_cutoff=limit, limit=None
                ):
                    ids.append(bucket_ids[index])
                    similarities.append(100.0 * (1 - edits / max(length, word_length)))
        id_array = np.array(ids, dtype=np.int64)
        similarity_array = np.array(similarities, dtype=np.float64)
        if length >= MIN_PREFIX_CHARS:
            low = bisect.bisect_left(self._words, query_word)
            high = bisect.bisect_left(self._words, query_word + _LAST_CHAR, lo=low)
            prefix_similarities = PREFIX_FLOOR + (100.0 - PREFIX_FLOOR) * length / self._word_lengths[low:high]
            id_array = np.concatenate([id_array, np.arange(low, high, dtype=np.int64)])
            similarity_array = np.concatenate([similarity_array, prefix_similarities])
        return id_array, similarity_array

    def _whole_bound(self, query_length: int, songs: NDArray[np.intp]) -> NDArray[np.float64]:
        """An upper bound of `_whole_similarity` for these indexed songs, from lengths alone: an indel
        ratio of strings of lengths a and b is at most 200 * min(a, b) / (a + b)."""
        bound = np.zeros(len(songs))
        for lengths in (self._title_lengths, self._artist_lengths, self._combined_lengths):
            field = lengths[songs]
            np.maximum(bound, 200.0 * np.minimum(field, query_length) / (field + query_length), out=bound)
        return bound


def _length_buckets(words: list[str]) -> dict[int, tuple[list[str], list[int]]]:
    """Vocabulary words grouped by length, with their vocabulary ids: typo search reads only near lengths."""
    buckets: dict[int, tuple[list[str], list[int]]] = {}
    for word_id, word in enumerate(words):
        bucket_words, bucket_ids = buckets.setdefault(len(word), ([], []))
        bucket_words.append(word)
        bucket_ids.append(word_id)
    return buckets


def _parse_query(query: str) -> _Query:
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"query is longer than {MAX_QUERY_CHARS} characters")
    text = normalize(query)
    words = tuple(text.split())
    if not words:
        raise ValueError("query must contain at least one letter or digit")
    if len(words) > MAX_QUERY_WORDS:
        raise ValueError(f"query has more than {MAX_QUERY_WORDS} words")
    return _Query(text, words, sum(map(len, words)))


def _score_normalized(query: _Query, norm_title: str, norm_artist: str) -> float:
    """`score_entry` on normalised text: the same arithmetic as the index's vectorised coverage."""
    song_words = set(norm_title.split()) | set(norm_artist.split())
    total = 0.0
    for query_word in query.words:
        total += len(query_word) * max((word_similarity(query_word, word) for word in song_words), default=0.0)
    coverage = total / query.weight
    if coverage <= 0:
        return 0.0
    return round(COVERAGE_WEIGHT * coverage + WHOLE_WEIGHT * _whole_similarity(query.text, norm_title, norm_artist), 1)


def _whole_similarity(query_text: str, norm_title: str, norm_artist: str) -> float:
    """0-100: the query against the whole title, the artist, or "title artist"; exact word order scores best."""
    best = 0.0
    for field in (norm_title, norm_artist, f"{norm_title} {norm_artist}" if norm_title and norm_artist else ""):
        if field:
            best = max(best, fuzz.ratio(query_text, field), fuzz.token_sort_ratio(query_text, field) - WORD_ORDER_PENALTY)
    return best
