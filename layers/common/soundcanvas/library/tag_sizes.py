"""How many bytes of tags and pictures an audio file carries, read from block headers only.

mutagen reads a file's whole tag into memory: an MP3's ID3v2 tag with every APIC frame, all of a
FLAC's metadata blocks (each picture included), an Ogg stream's comment packet, a WAV's or AIFF's
ID3 chunk, an M4A's `moov` atom. A 199 MB MP3 can be a 190 MB tag. `embedded_bytes` walks the
headers of those structures (a few bytes each, the bodies are skipped with seeks) and adds up
what mutagen would load, so that audio_meta can refuse a file before mutagen opens it.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

ID3_HEADER = struct.Struct(">3sBBB4s")  # "ID3", version, revision, flags, syncsafe size
ID3_FOOTER_FLAG = 0x10
FLAC_LAST_BLOCK = 0x80
OGG_PAGE = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, sequence, crc, segments
OGG_COMMENT_PACKET = 1  # identification header, then the comments (Vorbis and Opus alike)
RIFF_TAG_CHUNKS = (b"id3 ", b"ID3 ")
MAX_CHUNKS = 10_000  # a walk that finds more blocks than this stops: no real file has them


def embedded_bytes(path: Path) -> int:
    """Bytes of tags and pictures mutagen would read from the file (0 for a container we do not walk)."""
    with path.open("rb") as fh:
        head = fh.read(12)
        fh.seek(0)
        if head.startswith(b"ID3"):
            tag = _id3_bytes(fh)
            fh.seek(tag)
            return tag + (_flac_bytes(fh) if fh.read(4) == b"fLaC" else 0)
        if head.startswith(b"fLaC"):
            fh.seek(4)
            return _flac_bytes(fh)
        if head.startswith(b"OggS"):
            return _ogg_comment_bytes(fh)
        if head.startswith(b"RIFF"):
            return _chunk_bytes(fh, "<I", RIFF_TAG_CHUNKS)
        if head.startswith(b"FORM"):
            return _chunk_bytes(fh, ">I", RIFF_TAG_CHUNKS)
        if head[4:8] == b"ftyp":
            return _mp4_moov_bytes(fh)
    return 0


def _syncsafe(raw: bytes) -> int:
    return (raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14 | (raw[2] & 0x7F) << 7 | (raw[3] & 0x7F)


def _id3_bytes(fh: BinaryIO) -> int:
    """The whole ID3v2 tag: its 10-byte header, the size it declares, and the footer if flagged."""
    raw = fh.read(ID3_HEADER.size)
    if len(raw) < ID3_HEADER.size:
        return 0
    _, _, _, flags, size = ID3_HEADER.unpack(raw)
    return ID3_HEADER.size + _syncsafe(size) + (10 if flags & ID3_FOOTER_FLAG else 0)


def _flac_bytes(fh: BinaryIO) -> int:
    """Every metadata block after the `fLaC` marker (STREAMINFO, comments, pictures, padding ...)."""
    total = 0
    for _ in range(MAX_CHUNKS):
        header = fh.read(4)
        if len(header) < 4:
            break
        length = int.from_bytes(header[1:4], "big")
        total += 4 + length
        if header[0] & FLAC_LAST_BLOCK:
            break
        fh.seek(length, 1)
    return total


def _chunk_bytes(fh: BinaryIO, size_format: str, wanted: tuple[bytes, ...]) -> int:
    """The tag chunks of a RIFF (WAV, little-endian) or IFF (AIFF, big-endian) file."""
    fh.seek(12)
    total = 0
    for _ in range(MAX_CHUNKS):
        header = fh.read(8)
        if len(header) < 8:
            break
        (size,) = struct.unpack(size_format, header[4:8])
        if header[:4] in wanted:
            total += size
        fh.seek(size + (size & 1), 1)  # chunks are padded to an even length
    return total


def _mp4_moov_bytes(fh: BinaryIO) -> int:
    """The top-level `moov` atom of an MP4/M4A (its `udta` holds the tags and the `covr` pictures)."""
    offset = 0
    for _ in range(MAX_CHUNKS):
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header)
        if size == 1:
            size = struct.unpack(">Q", fh.read(8))[0]
        if kind == b"moov":
            return int(size)
        if size < 8:
            break
        offset += size
    return 0


def _ogg_comment_bytes(fh: BinaryIO) -> int:
    """Size of the first logical stream's comment packet, from the pages' lacing values."""
    serial, packet, size = None, 0, 0
    for _ in range(MAX_CHUNKS):
        raw = fh.read(OGG_PAGE.size)
        if len(raw) < OGG_PAGE.size or not raw.startswith(b"OggS"):
            break
        fields = OGG_PAGE.unpack(raw)
        lacing = fh.read(fields[7])
        serial = fields[4] if serial is None else serial
        if fields[4] == serial:
            for value in lacing:
                if packet == OGG_COMMENT_PACKET:
                    size += value
                if value < 255:
                    packet += 1
                if packet > OGG_COMMENT_PACKET:
                    return size
        fh.seek(sum(lacing), 1)
    return size
