"""Tab files: a solved `Tab` as a Guitar Pro 5 file (PyGuitarPro, LGPL-3.0, imported here only).

The file has one track with the tab's tuning (Guitar Pro numbers strings as we do, 1 = highest)
and its capo (the track's capo field; fret numbers stay counted from the capo, as Guitar Pro shows
them). The tempo counts the time signature's beats as soundcanvas.listen.rhythm does (dotted
quarters in 6/8; the file stores quarter notes a minute, as Guitar Pro does).

Time is quantised to the nearest sixteenth note at that tempo, counted from 0 s of the audio, so
bar 1 starts where the recording starts (the tab carries no downbeat; a piece that starts off the
beat begins with rests). Each event becomes a beat that lasts until the next event or until its
notes end, whichever is first; the rest of the gap is rests. A length that no single Guitar Pro
duration expresses (five sixteenths) or that crosses a bar line is written as tied notes. Two events
that round to the same sixteenth share one beat when their strings differ; otherwise the later one
moves to the next free sixteenth, so no note is lost to rounding.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from soundcanvas.listen.tab import (
    STRING_COUNT,
    Tab,
    TabNote,
    bar_sixteenths,
    beat_sixteenths,
    known_tempo,
    parse_time_signature,
)

DEFAULT_TEMPO_BPM = 120.0  # when the tempo is unknown (0: rhythm found no pulse)
TICKS_PER_SIXTEENTH = 240  # Guitar Pro's quarter note is 960 ticks
FIRST_MEASURE_TICK = 960
DEFAULT_NOTE_SIXTEENTHS = 4  # how long the last event lasts when its end is unknown
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 20.0, 400.0
GUITAR_PROGRAM = 25  # General MIDI "Acoustic Guitar (steel)", counted from 0
# Guitar Pro durations in sixteenths, longest first: (sixteenths, note value, dotted)
_DURATIONS = ((16, 1, False), (12, 2, True), (8, 2, False), (6, 4, True), (4, 4, False),
              (3, 8, True), (2, 8, False), (1, 16, False))


@dataclass(frozen=True)
class Segment:
    """A stretch of the timeline in sixteenths: notes struck at `start` (tied on when `tied`), or a rest."""

    start: int
    length: int
    notes: tuple[TabNote, ...]
    tied: bool = False


def quantized_beats(tab: Tab, sixteenth_seconds: float) -> list[tuple[int, int, tuple[TabNote, ...]]]:
    """(start, end, notes) per beat in sixteenths: start rounded to the nearest sixteenth, end where the
    notes stop (at least one sixteenth, at most the next beat's start); same-sixteenth events merged
    when their strings differ, otherwise moved to the next free sixteenth."""
    starts: list[int] = []
    notes: list[list[TabNote]] = []
    ends: list[int | None] = []
    for event in tab.events:
        start = round(event.time_seconds / sixteenth_seconds)
        end = None if event.end_seconds is None else round(event.end_seconds / sixteenth_seconds)
        if starts and start <= starts[-1]:
            used = {note.string for note in notes[-1]}
            if start == starts[-1] and not used & {note.string for note in event.notes}:
                notes[-1] += event.notes
                ends[-1] = None if end is None or ends[-1] is None else max(end, ends[-1])
                continue
            start = starts[-1] + 1
        starts.append(start)
        notes.append(list(event.notes))
        ends.append(end)
    beats = []
    for number, start in enumerate(starts):
        following = starts[number + 1] if number + 1 < len(starts) else None
        end = ends[number]
        if end is None:
            end = following if following is not None else start + DEFAULT_NOTE_SIXTEENTHS
        end = max(end, start + 1)
        if following is not None:
            end = min(end, following)
        beats.append((start, end, tuple(sorted(notes[number], key=lambda note: note.string))))
    return beats


def timeline(beats: list[tuple[int, int, tuple[TabNote, ...]]], measure_sixteenths: int) -> list[Segment]:
    """Notes and rests covering whole measures, each segment one Guitar Pro duration inside one measure
    (longer notes continue as tied segments)."""
    spans: list[tuple[int, int, tuple[TabNote, ...]]] = []
    cursor = 0
    for start, end, notes in beats:
        if start > cursor:
            spans.append((cursor, start, ()))
        spans.append((start, end, notes))
        cursor = end
    total = max(measure_sixteenths, -(-cursor // measure_sixteenths) * measure_sixteenths)
    if total > cursor:
        spans.append((cursor, total, ()))
    segments: list[Segment] = []
    for start, end, notes in spans:
        position = start
        while position < end:
            bar_end = (position // measure_sixteenths + 1) * measure_sixteenths
            length = next(size for size, _, _ in _DURATIONS if size <= min(end, bar_end) - position)
            segments.append(Segment(position, length, notes, tied=position > start and bool(notes)))
            position += length
    return segments


def guitar_pro_bytes(tab: Tab, tempo_bpm: float, time_signature: str = "4/4", title: str = "") -> bytes:
    """The tab as a Guitar Pro 5 (.gp5) file. A tempo of 0 (unknown) is written as DEFAULT_TEMPO_BPM;
    raises ValueError for another tempo outside 20-400 bpm or a time signature
    `parse_time_signature` refuses."""
    import guitarpro  # LGPL-3.0; only the tab-file step needs it
    from guitarpro import models as gp

    tempo = known_tempo(tempo_bpm) or DEFAULT_TEMPO_BPM
    if not MIN_TEMPO_BPM <= tempo <= MAX_TEMPO_BPM:
        raise ValueError(f"tempo: expected {MIN_TEMPO_BPM:g}-{MAX_TEMPO_BPM:g} beats per minute, got {tempo_bpm!r}")
    beats_per_bar, unit = parse_time_signature(time_signature)
    measure_sixteenths = bar_sixteenths(time_signature)
    sixteenths_per_beat = beat_sixteenths(time_signature)
    segments = timeline(quantized_beats(tab, 60.0 / tempo / sixteenths_per_beat), measure_sixteenths)
    measure_count = (segments[-1].start + segments[-1].length) // measure_sixteenths

    song = gp.Song(title=title, tempo=round(tempo * sixteenths_per_beat / 4))  # quarter notes a minute
    song.measureHeaders = [
        gp.MeasureHeader(number=number + 1, start=FIRST_MEASURE_TICK + number * measure_sixteenths * TICKS_PER_SIXTEENTH,
                         timeSignature=gp.TimeSignature(numerator=beats_per_bar, denominator=gp.Duration(value=unit)))
        for number in range(measure_count)
    ]
    track = gp.Track(song, number=1, name="Guitar", offset=tab.capo, fretCount=24, measures=[],
                     channel=gp.MidiChannel(channel=0, effectChannel=1, instrument=GUITAR_PROGRAM),
                     strings=[gp.GuitarString(number=number, value=tab.tuning.open_pitches[STRING_COUNT - number])
                              for number in range(1, STRING_COUNT + 1)])
    song.tracks = [track]
    measures = [gp.Measure(track, header) for header in song.measureHeaders]
    track.measures = measures
    for segment in segments:
        measure = measures[segment.start // measure_sixteenths]
        voice = measure.voices[0]
        _, value, dotted = next(item for item in _DURATIONS if item[0] == segment.length)
        beat = gp.Beat(voice, duration=gp.Duration(value=value, isDotted=dotted),
                       start=measure.start + segment.start % measure_sixteenths * TICKS_PER_SIXTEENTH,
                       status=gp.BeatStatus.normal if segment.notes else gp.BeatStatus.rest)
        beat.notes = [gp.Note(beat, value=note.fret, string=note.string,
                              type=gp.NoteType.tie if segment.tied else gp.NoteType.normal) for note in segment.notes]
        voice.beats.append(beat)
    for measure in measures:  # Guitar Pro keeps a second voice per bar; an unused one holds one empty beat
        measure.voices[1].beats.append(gp.Beat(measure.voices[1], status=gp.BeatStatus.empty))
    buffer = io.BytesIO()
    guitarpro.write(song, buffer, version=(5, 1, 0))
    return buffer.getvalue()
