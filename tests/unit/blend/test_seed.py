"""The committed public-domain seed catalog (data/seed-catalog) and its reader, soundcanvas.blend.seed."""

from __future__ import annotations

import ast
import base64
import gzip
import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import mido
import pytest

from soundcanvas.blend import seed
from soundcanvas.blend.seed import SEED_CATALOG_PATH, SeedCatalogError, SeedSong, collection_licences, read_seed_catalog

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "data" / "seed-catalog" / "README.md"

# What tools/build_seed_catalog.py produced from music21 10.5.1's corpus (data/seed-catalog/README.md).
MIN_SONGS = 4406
MIN_PER_COLLECTION = {
    "ryans-mammoth": 1045,
    "oneills-music-of-ireland": 1756,
    "airds-airs": 1127,
    "northumbrian-minstrelsy": 129,
    "bach-chorales": 349,
}
MAX_SECONDS = 30 * 60
SHARDS = 8  # the MIDI checks are split so that `pytest -n 2` shares them between its workers


@pytest.fixture(scope="module")
def songs() -> list[SeedSong]:
    return list(read_seed_catalog(SEED_CATALOG_PATH))


def readme_table() -> dict[str, int]:
    """Collection key -> song count, from the README's licence table rows."""
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|(.*)$", README.read_text(encoding="utf-8"), re.M)
    table = {}
    for key, rest in rows:
        cells = [cell.strip() for cell in rest.split("|")]
        table[key] = int(cells[2])
    return table


def test_the_default_path_is_the_committed_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEED_CATALOG_PATH", raising=False)
    assert seed.seed_catalog_path() == ROOT / "data" / "seed-catalog" / "seed-catalog.jsonl.gz"
    assert SEED_CATALOG_PATH.is_file()


def test_the_catalog_has_thousands_of_songs_from_every_collection(songs: list[SeedSong]) -> None:
    assert len(songs) >= MIN_SONGS
    counts = Counter(song.collection for song in songs)
    for collection, minimum in MIN_PER_COLLECTION.items():
        assert counts[collection] >= minimum, collection
    assert set(counts) == set(MIN_PER_COLLECTION)


def test_every_song_line_of_the_file_is_read(songs: list[SeedSong]) -> None:
    with gzip.open(SEED_CATALOG_PATH, "rt", encoding="utf-8") as stream:
        lines = [line for line in stream.read().splitlines() if line]
    header = json.loads(lines[0])
    assert header["songs"] == len(lines) - 1 == len(songs)
    assert [json.loads(line)["songId"] for line in lines[1:]] == [song.songId for song in songs]


def test_every_licence_is_documented_in_the_readme(songs: list[SeedSong]) -> None:
    licences = collection_licences(SEED_CATALOG_PATH)
    table = readme_table()
    assert set(table) == set(licences)
    counts = Counter(song.collection for song in songs)
    for key, entry in licences.items():
        assert entry.songs == counts[key] == table[key], key
        assert entry.publicDomain and entry.encoding and entry.date
    for song in songs:
        assert song.collection in table
        assert song.licence == licences[song.collection].licence
        assert song.licence.startswith("public-domain")
    readme = README.read_text(encoding="utf-8")
    assert "corpus/license.txt" in readme  # the encodings' terms, not only music21's BSD licence
    assert "BSD-3-Clause" in readme


def test_song_ids_are_unique_and_titles_real(songs: list[SeedSong]) -> None:
    ids = [song.songId for song in songs]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"pd-[0-9a-f]{16}", song_id) for song_id in ids)
    titles = Counter((song.collection, song.title.casefold()) for song in songs)
    assert titles.most_common(1)[0][1] == 1
    for song in songs:
        assert song.title and song.title == song.title.strip() and not song.title.lower().startswith("untitled")
        assert "\\" not in song.title and "%" not in song.title
        assert song.artist


def test_metadata_is_well_formed(songs: list[SeedSong]) -> None:
    for song in songs:
        assert re.fullmatch(r"[A-G][b#]? (major|minor)", song.key), song
        assert re.fullmatch(r"\d{1,2}/(1|2|4|8|16)", song.timeSignature), song.timeSignature
        assert 40 <= song.tempoBpm <= 300, song
        assert 0 < song.durationSeconds <= MAX_SECONDS, song
        assert song.source.startswith("music21 corpus: ")
        assert song.tags and all(tag == tag.lower() and tag for tag in song.tags)
    chorales = [song for song in songs if song.collection == "bach-chorales"]
    assert all(song.artist == "Johann Sebastian Bach" and "chorale" in song.tags for song in chorales)
    reels = [song for song in songs if "reel" in song.tags]
    assert len(reels) > 500


def midi_seconds(midi: mido.MidiFile) -> float:
    """From the start to the last event, through the tempo map of every track (what MidiFile.length adds up)."""
    tempos: list[tuple[int, int]] = []
    end = 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                tempos.append((tick, message.tempo))
        end = max(end, tick)
    seconds, last_tick, tempo = 0.0, 0, 500_000
    for tick, value in sorted(tempos):
        seconds += mido.tick2second(tick - last_tick, midi.ticks_per_beat, tempo)
        last_tick, tempo = tick, value
    return seconds + mido.tick2second(end - last_tick, midi.ticks_per_beat, tempo)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_midi_parses_with_mido_and_lasts_its_duration(songs: list[SeedSong], shard: int) -> None:
    for song in songs[shard::SHARDS]:
        midi = mido.MidiFile(file=io.BytesIO(song.midi))
        assert midi.type == 1 and len(midi.tracks) >= 2, song.songId
        notes = [m for track in midi.tracks[1:] for m in track if m.type == "note_on" and m.velocity > 0]
        assert len(notes) >= 8, song.songId
        assert midi_seconds(midi) == pytest.approx(song.durationSeconds, abs=0.01), song.songId


def test_mido_length_agrees_with_the_durations(songs: list[SeedSong]) -> None:
    sample = [*songs[::50], max(songs, key=lambda s: s.durationSeconds)]
    for song in sample:
        midi = mido.MidiFile(file=io.BytesIO(song.midi))
        assert midi.length == pytest.approx(song.durationSeconds, abs=0.01), song.songId
        assert midi.length == pytest.approx(midi_seconds(midi), abs=1e-6)


def test_reading_the_whole_catalog_is_fast() -> None:
    started = time.process_time()  # CPU time: other processes on the machine do not count
    count = sum(len(song.midi) > 0 for song in read_seed_catalog(SEED_CATALOG_PATH))
    assert time.process_time() - started < 1.0
    assert count >= MIN_SONGS


def write_catalog(path: Path, header: dict[str, object], lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join([json.dumps(header), *lines]) + "\n").encode()))
    return path


def first_lines(count: int) -> tuple[dict[str, object], list[str]]:
    with gzip.open(SEED_CATALOG_PATH, "rt", encoding="utf-8") as stream:
        header = json.loads(stream.readline())
        lines = [stream.readline().rstrip("\n") for _ in range(count)]
    return header, lines


def test_the_environment_variable_points_the_reader_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header, lines = first_lines(3)
    other = write_catalog(tmp_path / "small.jsonl.gz", {**header, "songs": 3}, lines)
    monkeypatch.setenv("SEED_CATALOG_PATH", str(other))
    small = list(read_seed_catalog())
    assert [song.songId for song in small] == [json.loads(line)["songId"] for line in lines]
    assert small[0].midi == base64.b64decode(json.loads(lines[0])["midi"])
    assert set(collection_licences()) == set(collection_licences(SEED_CATALOG_PATH))


def test_a_truncated_or_foreign_file_is_refused(tmp_path: Path) -> None:
    header, lines = first_lines(3)
    with pytest.raises(SeedCatalogError, match="promises 4 songs"):
        read_seed_catalog(write_catalog(tmp_path / "short.jsonl.gz", {**header, "songs": 4}, lines))
    with pytest.raises(SeedCatalogError, match="is not a"):
        read_seed_catalog(write_catalog(tmp_path / "other.jsonl.gz", {**header, "format": "other/1"}, lines))
    broken = json.loads(lines[0])
    broken["midi"] = "not base64!"
    with pytest.raises(SeedCatalogError, match="bad seed song"):
        read_seed_catalog(write_catalog(tmp_path / "bad.jsonl.gz", {**header, "songs": 1}, [json.dumps(broken)]))


def test_the_reader_needs_no_music21() -> None:
    tree = ast.parse(Path(seed.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {
        "__future__",
        "base64",
        "binascii",
        "gzip",
        "json",
        "os",
        "collections",
        "dataclasses",
        "pathlib",
        "typing",
    }
