"""Blend's song search speed: build, size and load of the index artifact, and query latency, on a synthetic catalog.

The catalog is deterministic for a seed. Titles combine one to five words from COMMON_WORDS with made-up
words built from SYLLABLES (rarer title words and artist names; a few carry accents). About 8 % of the
songs are near-duplicates of an earlier song: a live or remastered version, a cover by another
artist, or a one-letter variant. That gives a 100,000-song catalog about 30,000 distinct words, the
vocabulary size of a real catalog of that size.

The query mix draws a target song for each query and cycles through QUERY_KINDS: the exact title;
one typo; two typos; a prefix; title plus artist; the artist alone; the title's words in reverse order.
Every query runs `SearchIndex.search(query, limit=20)` with five private songs as `extra`, as the
API passes a caller's private songs. `found_rate` is the share of queries whose target song is on
that first page (artist queries count as found when the first page is all by that artist).

Targets (reported, not asserted): search p95 <= 50 ms, index load <= 1 s.

    python -m bench.blend.search_speed       # prints the figures as JSON
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from typing import Any

from soundcanvas.blend.search import MAX_QUERY_WORDS, SearchEntry, SearchIndex, build_index, normalize

TARGET_P95_MS = 50.0
TARGET_LOAD_SECONDS = 1.0
PAGE_LIMIT = 20
LOAD_RUNS = 3
NEAR_DUPLICATE_SHARE = 0.08
MADE_UP_WORDS = 40_000
ARTISTS_PER_100K_SONGS = 9_000
QUERY_KINDS = ("exact", "typo1", "typo2", "prefix", "title_artist", "artist", "word_order")
VERSION_SUFFIXES = (" (Live)", " - Remastered 2011", " (Acoustic Version)", " (Radio Edit)", " [Demo]")
ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ"}

_COMMON_WORDS_TEXT = """
love heart night day time life world way home baby girl boy dream fire rain light dark sun moon star sky
road river sea ocean city town street summer winter spring autumn blue red black white gold silver green
song dance music sound beat rhythm soul mind body eyes hands tears smile kiss touch fall rise run walk
fly burn shine fade break hold stay leave come go back again never always forever tonight tomorrow
yesterday morning evening midnight wild free lonely young old new true lost found broken sweet bitter
cold hot slow fast high low long little big last first only one two three hundred thousand miles away
my your our their me you we they this that the a an of in on at to for with from under over into out
down up between without inside outside behind beyond across above below hotel california bohemian
rhapsody queen king prince princess angel devil heaven hell paradise garden island mountain valley
desert forest window door wall house room bed table chair car train plane boat ship bridge tower castle
church school letter story book page word name voice call answer question secret promise lie truth
fool thief hero lover stranger friend brother sister mother father daughter son child children people
crowd army soldier sailor rider dancer singer drummer piano guitar violin drum bell horn whistle
radio television telephone money diamond pearl ruby rose lily daisy violet jasmine thunder lightning storm
wind snow ice stone glass paper silk velvet leather wine whiskey coffee sugar honey salt bread candy
cherry apple lemon orange peach berry waltz jig reel hornpipe polka march blues ballad lullaby anthem
serenade symphony sonata requiem overture prelude fugue nocturne maggie molly kesh drowsy sally johnny
jimmy rosie annie mary dixie jolene roxanne layla yesterday hallelujah imagine wonderwall thriller
"""

_SYLLABLES_TEXT = """
ka lo mi ren dor sa vi tel bran cor el fin gar hol is jun kel lam mor nor pel quin ros sten tor ul
val wen yar zel an bel cas dan er fal gil har ith jor kor lin mar nel or pas rin sil tam ur ven wil
"""
COMMON_WORDS = _COMMON_WORDS_TEXT.split()  # song-title words
SYLLABLES = _SYLLABLES_TEXT.split()  # made-up names and rarer words are two to four of these


def measure_search(n_songs: int = 100_000, queries: int = 500, seed: int = 0) -> dict[str, Any]:
    """Build, size and load the index of a synthetic `n_songs` catalog, and time `queries` searches.

    Returns build_seconds, artifact_bytes, load_seconds (median of LOAD_RUNS loads), p50_ms, p95_ms and
    max_ms of the searches, p95_ms per query kind, the catalog's vocabulary size, found_rate and the
    targets.
    """
    rng = random.Random(seed)
    catalog = synthetic_catalog(n_songs, rng)
    started = time.perf_counter()
    artifact = build_index(catalog)
    build_seconds = time.perf_counter() - started
    load_times = []
    index = None
    for _ in range(LOAD_RUNS):
        started = time.perf_counter()
        index = SearchIndex.from_bytes(artifact)
        load_times.append(time.perf_counter() - started)
    assert index is not None
    private = [
        SearchEntry(f"private-{i}", _title(rng, made_up=[]), "Me") for i in range(5)
    ]  # the caller's own songs, passed with every query
    mix = query_mix(catalog, queries, rng)
    index.search("warm up", PAGE_LIMIT, extra=private)
    latencies: dict[str, list[float]] = {kind: [] for kind in QUERY_KINDS}
    found = 0
    for kind, query, target in mix:
        started = time.perf_counter()
        page = index.search(query, PAGE_LIMIT, extra=private)
        latencies[kind].append((time.perf_counter() - started) * 1000)
        found += _found(kind, page.hits, target)
    every = sorted(ms for kind_ms in latencies.values() for ms in kind_ms)
    return {
        "songs": n_songs,
        "distinct_words": len({word for entry in catalog for word in normalize(f"{entry.title} {entry.artist}").split()}),
        "build_seconds": round(build_seconds, 3),
        "artifact_bytes": len(artifact),
        "load_seconds": round(statistics.median(load_times), 3),
        "queries": len(every),
        "p50_ms": round(_percentile(every, 50), 2),
        "p95_ms": round(_percentile(every, 95), 2),
        "max_ms": round(every[-1], 2),
        "p95_ms_by_kind": {kind: round(_percentile(sorted(ms), 95), 2) for kind, ms in latencies.items() if ms},
        "found_rate": round(found / len(every), 3),
        "target_p95_ms": TARGET_P95_MS,
        "target_load_seconds": TARGET_LOAD_SECONDS,
    }


def synthetic_catalog(n_songs: int, rng: random.Random) -> list[SearchEntry]:
    """`n_songs` songs with titles and artists from COMMON_WORDS and made-up words, some near-duplicates."""
    made_up = sorted(_made_up_words(MADE_UP_WORDS, rng))
    artists = [_artist(rng, made_up) for _ in range(max(1, n_songs * ARTISTS_PER_100K_SONGS // 100_000))]
    catalog: list[SearchEntry] = []
    for number in range(n_songs):
        song_id = f"song-{number:06d}"
        if catalog and rng.random() < NEAR_DUPLICATE_SHARE:
            catalog.append(_near_duplicate(song_id, rng.choice(catalog), artists, rng))
        else:
            catalog.append(SearchEntry(song_id, _title(rng, made_up), rng.choice(artists)))
    return catalog


def query_mix(catalog: list[SearchEntry], count: int, rng: random.Random) -> list[tuple[str, str, SearchEntry]]:
    """`count` (kind, query, target song) triples, cycling through QUERY_KINDS."""
    mix = []
    for number in range(count):
        kind = QUERY_KINDS[number % len(QUERY_KINDS)]
        target = rng.choice(catalog)
        words = target.title.split()
        if kind == "exact":
            query = target.title
        elif kind == "typo1":
            query = _with_typos(target.title, 1, rng)
        elif kind == "typo2":
            query = _with_typos(target.title, 2, rng)
        elif kind == "prefix":
            query = " ".join([*words[:-1], words[-1][: max(3, len(words[-1]) // 2)]])
        elif kind == "title_artist":
            query = f"{target.title} {target.artist}"
        elif kind == "artist":
            query = target.artist
        else:
            query = " ".join(reversed(words))
        mix.append((kind, " ".join(query.split()[:MAX_QUERY_WORDS]), target))  # what the API accepts
    return mix


def _found(kind: str, hits: tuple[Any, ...], target: SearchEntry) -> bool:
    if any(hit.song_id == target.song_id for hit in hits):
        return True
    return kind == "artist" and len(hits) == PAGE_LIMIT and all(hit.artist == target.artist for hit in hits)


def _made_up_words(count: int, rng: random.Random) -> set[str]:
    words: set[str] = set()
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if rng.random() < 0.03:
            plain = rng.choice([char for char in word if char in ACCENTS] or [word[0]])
            word = word.replace(plain, ACCENTS.get(plain, plain), 1)
        words.add(word)
    return words


def _artist(rng: random.Random, made_up: list[str]) -> str:
    pattern = rng.random()
    if pattern < 0.45:
        return f"{rng.choice(made_up).title()} {rng.choice(made_up).title()}"
    if pattern < 0.7:
        return f"The {rng.choice(COMMON_WORDS).title()} {rng.choice(COMMON_WORDS).title()}s"
    if pattern < 0.85:
        return f"{rng.choice(made_up).title()} & the {rng.choice(COMMON_WORDS).title()}s"
    return rng.choice(made_up).title()


def _title(rng: random.Random, made_up: list[str]) -> str:
    words = [
        rng.choice(made_up) if made_up and rng.random() < 0.2 else rng.choice(COMMON_WORDS)
        for _ in range(rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5)))
    ]
    return " ".join(word.title() for word in words)


def _near_duplicate(song_id: str, original: SearchEntry, artists: list[str], rng: random.Random) -> SearchEntry:
    variant = rng.random()
    if variant < 0.5:
        return SearchEntry(song_id, original.title + rng.choice(VERSION_SUFFIXES), original.artist)
    if variant < 0.8:
        return SearchEntry(song_id, original.title, rng.choice(artists))  # a cover
    return SearchEntry(song_id, _with_typos(original.title, 1, rng), original.artist)


def _with_typos(text: str, typos: int, rng: random.Random) -> str:
    """`text` with `typos` random edits (substitute, delete, insert, transpose) inside its longer words."""
    words = text.split()
    for _ in range(typos):
        candidates = [i for i, word in enumerate(words) if len(word) >= 4] or list(range(len(words)))
        i = rng.choice(candidates)
        word = words[i]
        at = rng.randrange(1, len(word)) if len(word) > 1 else 0
        edit = rng.choice(("substitute", "delete", "insert", "transpose"))
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if edit == "substitute":
            word = word[:at] + letter + word[at + 1 :]
        elif edit == "delete" and len(word) > 1:
            word = word[:at] + word[at + 1 :]
        elif edit == "transpose" and at < len(word) - 1:
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        else:
            word = word[:at] + letter + word[at:]
        words[i] = word
    return " ".join(words)


def _percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, round(percent / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


if __name__ == "__main__":
    sys.stdout.write(json.dumps(measure_search(), indent=2) + "\n")
