"""The committed public-domain seed catalog: data/seed-catalog/seed-catalog.jsonl.gz, read without music21.

    for song in read_seed_catalog():
        song.title, song.key, song.tempoBpm, song.midi  # MIDI bytes of a small type-1 file

The file is built offline by tools/build_seed_catalog.py from music21's bundled corpus (see
data/seed-catalog/README.md): gzip of JSON lines, a header line (format, music21 version, the licence
table of its collections) and then one line per song with its MIDI in base64. The environment variable
SEED_CATALOG_PATH points the reader at another copy of the file.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "soundcanvas-seed-catalog/1"
SEED_CATALOG_PATH = Path(__file__).resolve().parents[4] / "data" / "seed-catalog" / "seed-catalog.jsonl.gz"
ENV_VAR = "SEED_CATALOG_PATH"


class SeedCatalogError(ValueError):
    """The seed catalog file is not what this reader understands."""


@dataclass(frozen=True)
class SeedSong:
    songId: str
    title: str
    artist: str
    collection: str
    source: str
    licence: str
    key: str
    tempoBpm: int
    timeSignature: str
    durationSeconds: float
    tags: tuple[str, ...]
    midi: bytes


@dataclass(frozen=True)
class SeedCollection:
    """One collection of the licence table: what it is, why it is public domain, whose encoding."""

    key: str
    name: str
    date: str
    publicDomain: str
    encoding: str
    licence: str
    songs: int


def seed_catalog_path(path: str | Path | None = None) -> Path:
    """The file to read: `path`, else $SEED_CATALOG_PATH, else the repository's committed catalog."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(ENV_VAR) or SEED_CATALOG_PATH)


def _header(line: str, file: Path) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise SeedCatalogError(f"{file} does not start with a JSON header") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SeedCatalogError(f"{file} is not a {FORMAT} file")
    return header


def _song(line: str) -> SeedSong:
    data = json.loads(line)
    try:
        return SeedSong(
            songId=str(data["songId"]),
            title=str(data["title"]),
            artist=str(data["artist"]),
            collection=str(data["collection"]),
            source=str(data["source"]),
            licence=str(data["licence"]),
            key=str(data["key"]),
            tempoBpm=int(data["tempoBpm"]),
            timeSignature=str(data["timeSignature"]),
            durationSeconds=float(data["durationSeconds"]),
            tags=tuple(str(tag) for tag in data["tags"]),
            midi=base64.b64decode(data["midi"], validate=True),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise SeedCatalogError(f"bad seed song record {line[:80]!r}: {exc}") from exc


def read_seed_catalog(path: str | Path | None = None) -> Iterator[SeedSong]:
    """Every song of the catalog, in file order (the whole file is read and checked before the first song)."""
    file = seed_catalog_path(path)
    with gzip.open(file, "rt", encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    header = _header(lines[0] if lines else "", file)
    songs = [_song(line) for line in lines[1:] if line]
    if len(songs) != header.get("songs"):
        raise SeedCatalogError(f"{file}: the header promises {header.get('songs')} songs, the file has {len(songs)}")
    return iter(songs)


def collection_licences(path: str | Path | None = None) -> dict[str, SeedCollection]:
    """The catalog's licence table by collection key (the table of data/seed-catalog/README.md)."""
    file = seed_catalog_path(path)
    with gzip.open(file, "rt", encoding="utf-8") as stream:
        header = _header(stream.readline(), file)
    try:
        return {
            key: SeedCollection(
                key=key,
                name=str(entry["name"]),
                date=str(entry["date"]),
                publicDomain=str(entry["publicDomain"]),
                encoding=str(entry["encoding"]),
                licence=str(entry["licence"]),
                songs=int(entry["songs"]),
            )
            for key, entry in header["collections"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SeedCatalogError(f"{file}: bad collections table: {exc}") from exc
