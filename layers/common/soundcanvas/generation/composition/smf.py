"""A small Standard MIDI File (type 1) writer.

Events are collected as absolute-tick tuples and encoded once, with delta times, straight to bytes:
much faster than building a message object per note, and byte-for-byte what mido writes for the same
messages (with running status), which the tests check.
"""

from __future__ import annotations

from collections.abc import Iterable

from .context import Note

# On the same tick a note-off sorts before a note-on, so a repeated pitch is released before it re-sounds.
NOTE_OFF, NOTE_ON = 0, 1


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def meta(kind: int, data: bytes) -> bytes:
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def track_name(name: str) -> bytes:
    return meta(0x03, name.encode("latin-1"))


def tempo(microseconds_per_beat: int) -> bytes:
    return meta(0x51, microseconds_per_beat.to_bytes(3, "big"))


def time_signature(numerator: int = 4, denominator: int = 4) -> bytes:
    return meta(0x58, bytes((numerator, denominator.bit_length() - 1, 24, 8)))


def program_change(channel: int, program: int) -> bytes:
    return bytes((0xC0 | channel, program))


def control_change(channel: int, control: int, value: int) -> bytes:
    return bytes((0xB0 | channel, control, value))


def note_events(notes: Iterable[Note], channel: int, end_tick: int) -> list[tuple[int, int, int, int, int]]:
    """Note-on/off events (tick, order, status, pitch, velocity); overlaps on one pitch are cut, all end by end_tick."""
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for start, end, pitch, velocity in notes:
        by_pitch.setdefault(pitch, []).append((start, min(end, end_tick), velocity))
    on, off = 0x90 | channel, 0x80 | channel
    out = []
    for pitch, group in by_pitch.items():
        group.sort()
        for k, (start, end, velocity) in enumerate(group):
            if k + 1 < len(group):
                end = min(end, group[k + 1][0])
            if end <= start:
                continue
            out.append((start, NOTE_ON, on, pitch, velocity))
            out.append((end, NOTE_OFF, off, pitch, 0))
    return out


def encode_track(setup: list[bytes], notes: list[tuple[int, int, int, int, int]], end_tick: int) -> bytes:
    """One MTrk chunk with running status: setup events at tick 0, the notes in time order, end-of-track at end_tick."""
    body = bytearray()
    running = None
    for data in setup:
        body.append(0)
        if data[0] == 0xFF:  # meta events cancel running status
            body += data
            running = None
        else:
            body += data[1:] if data[0] == running else data
            running = data[0]
    last = 0
    for tick, _order, status, pitch, velocity in sorted(notes):
        delta = tick - last
        body += _vlq(delta) if delta > 0x7F else bytes((delta,))
        body += bytes((pitch, velocity)) if status == running else bytes((status, pitch, velocity))
        running = status
        last = tick
    body += _vlq(end_tick - last) + meta(0x2F, b"")
    return b"MTrk" + len(body).to_bytes(4, "big") + bytes(body)


def encode_file(tracks: list[bytes], ticks_per_beat: int) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + len(tracks).to_bytes(2, "big") + ticks_per_beat.to_bytes(2, "big") + b"".join(tracks)
