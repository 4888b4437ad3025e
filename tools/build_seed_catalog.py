"""Build Blend's public-domain seed catalog from music21's bundled corpus and write it as one small file.

The catalog is the titled tunes of four public-domain tune books that ship with music21 as ABC
(Ryan's Mammoth Collection 1883, O'Neill's Music of Ireland 1903, Aird's Airs 1778-1803 and Bruce &
Stokoe's Northumbrian Minstrelsy 1882) plus the J.S. Bach four-part chorales (MusicXML). Each tune
becomes one JSON line with its metadata and a small type-1 MIDI file (base64); the first line is a
header holding the format, the music21 version and the per-collection licence table, which is also
written out as data/seed-catalog/README.md so the two cannot drift apart.

What is kept: tunes with a real title, at least MIN_BARS bars and at least one note, that parse and
convert. Duplicates (same collection and same normalised title, or the same O'Neill number, which
appears in two overlapping transcriptions in the corpus) keep the first in source order.

Tempo (tempoBpm, quarter notes per minute): the tune's own Q: field when it has a number between
40 and 300 (only Aird's Airs has them); else a default for its rhythm (R: field, Ryan's "Title -- Reel" suffix, or a
rhythm word in the title, see RHYTHM_TEMPI); else a tempo word in Q:/N: ("Slow", "Moderate",
"Lively", see WORD_TEMPI); else 150 in compound metres (dotted quarter = 100) and 112 otherwise.
One tempo per tune: later tempo changes are ignored.

Each tune is played once through as written: repeats are not repeated and only the last of a set of
first/second endings is kept (see once_through). The MIDI is written with mido from music21's note
list rather than with music21's own MIDI writer (which in 10.5 raises "object is already found in
this Stream" on many ABC tunes), so it holds only what Blend needs: a conductor track with tempo and
time signatures, then one track per part with a program change and plain notes at one velocity (no
dynamics, articulations, lyrics or chord symbols).

Run (music21 is a tool-only dependency, see requirements/train.txt; about 10-20 minutes on 2 cores):

    python tools/build_seed_catalog.py [--output PATH] [--readme PATH] [--limit N] [--jobs N]

The output is deterministic: the same corpus and music21 version give byte-identical files.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import itertools
import json
import logging
import multiprocessing
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "data" / "seed-catalog" / "seed-catalog.jsonl.gz"
DEFAULT_README = ROOT / "data" / "seed-catalog" / "README.md"

FORMAT = "soundcanvas-seed-catalog/1"
TICKS_PER_BEAT = 480
VELOCITY = 80
MIN_BARS = 4
MAX_SECONDS = 30 * 60
SCORE_TEMPO_RANGE = (40, 300)  # a Q: field outside this (quarter BPM) is taken for a slip and ignored

log = logging.getLogger("build_seed_catalog")

# What music21 itself says about its corpus (corpus/license.txt): the BSD-3-Clause licence covers the
# music21 software; for the corpus "the music21 creators assume no copyright or change in licensing",
# the encodings "are distributed with the permission of the encoders" and "may be under copyright".
CORPUS_NOTE = (
    "music21 corpus/license.txt: the corpus is distributed with the permission of the encoders; music21's "
    "BSD-3-Clause licence covers the software, not the corpus encodings"
)


@dataclass(frozen=True)
class Collection:
    key: str
    name: str
    date: str
    corpus: str  # how the sources are found (for the README)
    artist: str  # default artist
    tags: tuple[str, ...]
    program: int  # General MIDI program (0-based) for every part
    public_domain: str  # why the music is public domain
    encoding: str  # who encoded it and under what terms
    licence: str  # the short string stored on each song


COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        key="ryans-mammoth",
        name="Ryan's Mammoth Collection: 1050 Reels and Jigs, Hornpipes, Clogs, Walk-arounds, Essences, "
        "Strathspeys, Highland Flings and Contra Dances",
        date="1883 (Boston: Elias Howe; compiled by William Bradbury Ryan)",
        corpus="ryansMammoth/*.abc (one tune per file)",
        artist="Traditional",
        tags=("fiddle", "traditional"),
        program=40,
        public_domain="Published in the United States in 1883, before 1930, so public domain there; the tunes are "
        "traditional or by 19th-century fiddlers and composers (named in C: fields where known).",
        encoding="ABC transcriptions contributed to the abc community by Ray Davies, John Chambers, Bob Puckette, "
        "John Walsh and others (Z: fields). No licence is embedded; " + CORPUS_NOTE + ".",
        licence="public-domain music; ABC encoding via music21 corpus (by permission of the encoders)",
    ),
    Collection(
        key="oneills-music-of-ireland",
        name="O'Neill's Music of Ireland: Eighteen Hundred and Fifty Melodies",
        date="1903 (Chicago: Lyon & Healy; collected by Francis O'Neill, 1848-1936, arranged by James O'Neill)",
        corpus="oneills1850/*.abc (tune books, many tunes per file)",
        artist="Traditional",
        tags=("irish", "traditional"),
        program=40,
        public_domain="Published in the United States in 1903, before 1930, so public domain there; Francis "
        "O'Neill died in 1936. The melodies are traditional (a few by Turlough O'Carolan, 1670-1738).",
        encoding="ABC transcriptions by Henrik Norbeck, Bob Safranek, Trish O'Neil, John Chambers, Dan G. "
        "Petersen, Michael Hogan and others (Z: fields). No licence is embedded; " + CORPUS_NOTE + ".",
        licence="public-domain music; ABC encoding via music21 corpus (by permission of the encoders)",
    ),
    Collection(
        key="airds-airs",
        name="Aird's Selection of Scotch, English, Irish and Foreign Airs, volumes 1-6",
        date="1778/1782-1803 (Glasgow: James Aird; volume 4 on is imprinted J. McFadyen)",
        corpus="airdsAirs/book1.abc ... book6.abc",
        artist="Traditional",
        tags=("scottish", "traditional"),
        program=73,
        public_domain="Printed 1778-1803; the music is more than two centuries old and out of copyright everywhere.",
        encoding="ABC transcriptions by Jack Campin, 2003-2009 (Z: fields; also sold by him as a CD-ROM edition), "
        "with his editorial notes. No licence is embedded; " + CORPUS_NOTE + ".",
        licence="public-domain music; ABC encoding by Jack Campin via music21 corpus (by permission)",
    ),
    Collection(
        key="northumbrian-minstrelsy",
        name="Northumbrian Minstrelsy (song tunes and pipe tunes)",
        date="1882 (Newcastle: Society of Antiquaries; J. Collingwood Bruce and John Stokoe)",
        corpus="miscFolk/northumbrianminstrelsyopus.abc",
        artist="Traditional",
        tags=("english", "northumbrian", "traditional"),
        program=73,
        public_domain="Published in 1882 from older traditional tunes; out of copyright everywhere.",
        encoding="ABC transcription by Jack Campin, v1.0 May 2007. No licence is embedded; " + CORPUS_NOTE + ".",
        licence="public-domain music; ABC encoding by Jack Campin via music21 corpus (by permission)",
    ),
    Collection(
        key="bach-chorales",
        name="J.S. Bach, four-part chorales (the Riemenschneider set as listed by music21.corpus.chorales)",
        date="c. 1714-1750 (Bach died 1750); first printed 1784-1787 by C.P.E. Bach",
        corpus="bach/bwv*.mxl via music21.corpus.chorales.Iterator",
        artist="Johann Sebastian Bach",
        tags=("chorale", "baroque", "sacred"),
        program=19,
        public_domain="Composed before 1750; out of copyright everywhere.",
        encoding="MusicXML encodings marked 'PDF (c) 2004 Margaret Greentree - used by permission' inside each file; "
        + CORPUS_NOTE
        + ". The catalog keeps only the notes (no layout, text or credits).",
        licence="public-domain music; MusicXML encoding (c) 2004 Margaret Greentree, used by permission (music21 corpus)",
    ),
)
COLLECTION_BY_KEY = {c.key: c for c in COLLECTIONS}

# Looked at and left out, recorded in the README.
EXCLUDED: tuple[tuple[str, str], ...] = (
    (
        "essenFolksong (8,500 tunes)",
        "its license.txt gives permission for non-commercial distribution and use in music21 only.",
    ),
    (
        "miscFolk/americanfifeopus.abc (56 tunes)",
        "the encoder downloaded it from a vanished site and only thinks it comes from period bandsmen's tunebooks "
        "(file header); not clearly public domain.",
    ),
    ("nottingham-dataset (2 tunes)", 'no source or date for the tunes ("via EF"); not clearly public domain.'),
    (
        "joplin, liliuokalani, johnson_j_r, leadSheet, beach (single pieces)",
        "six songs not worth the doubt: the encodings are MuseScore.com or Wikifonia uploads or name no source, "
        "and Irving Berlin's Alexander's Ragtime Band (1911) is still in copyright outside the US.",
    ),
    (
        "the other composer folders",
        "multi-movement art music (quartets, madrigals, sonatas) rather than songs; their encodings were not "
        "checked one by one.",
    ),
)

# Quarter-note BPM defaults per rhythm, (simple metre, compound metre): moderate session/dance tempi.
RHYTHM_TEMPI: dict[str, tuple[int, int]] = {
    "reel": (200, 168),  # half note = 100 in 2/2 and 4/4
    "hornpipe": (160, 150),  # half note = 80
    "clog": (160, 150),
    "strathspey": (128, 150),
    "fling": (136, 150),
    "jig": (112, 168),  # dotted quarter = 112 in 6/8 (Ryan's also has minstrel "jigs" in 2/4)
    "slip jig": (112, 168),
    "slide": (132, 198),  # dotted quarter = 132
    "polka": (140, 150),
    "walkaround": (112, 150),
    "march": (112, 150),  # dotted quarter = 100 in 6/8
    "quickstep": (120, 165),
    "set dance": (160, 150),
    "long dance": (160, 150),
    "air": (80, 96),
    "waltz": (144, 144),  # dotted half = 48
    "minuet": (108, 108),
    "gavotte": (108, 108),
    "chorale": (80, 80),
}
# Written in 2/4 with sixteenth notes, these dances are felt in the same two beats a bar as in 2/2: halve.
TWO_FOUR_HALVED = {"reel", "hornpipe", "clog", "strathspey", "fling"}
WORD_TEMPI: tuple[tuple[str, int], ...] = (
    ("very slow", 60),
    ("slow", 72),
    ("plaintive", 72),
    ("andante", 92),
    ("moderate", 100),
    ("lively", 132),
    ("spirit", 132),  # "with spirit", "spirited"
    ("quick", 132),
    ("brisk", 132),
    ("allegro", 132),
)
DEFAULT_SIMPLE = 112
DEFAULT_COMPOUND = 150  # dotted quarter = 100

RHYTHM_ALIASES: dict[str, str] = {
    "double jig": "jig",
    "single jig": "jig",
    "jigs": "jig",
    "slipjig": "slip jig",
    "slip-jig": "slip jig",
    "hop jig": "slip jig",
    "highland fling": "fling",
    "reels": "reel",
    "hornpipes": "hornpipe",
    "quick step": "quickstep",
    "quick-step": "quickstep",
    "walk around": "walkaround",
    "walk-around": "walkaround",
    "menuet": "minuet",
    "slow air": "air",
}
KNOWN_RHYTHMS = set(RHYTHM_TEMPI) | {"schottische", "essence", "contra dance", "song", "quadrille"}
# A rhythm word at the end of a title ("Mr. Robertson of Law's Strathspey.") names the rhythm.
TITLE_RHYTHM = re.compile(
    r"\b(reel|jig|slip jig|hornpipe|strathspey|march|quick ?step|waltz|minuet|polka|clog|fling|gavotte)\W*$", re.I
)

MODE_TO_MAJOR_MINOR = {
    "major": "major",
    "ionian": "major",
    "mixolydian": "major",
    "lydian": "major",
    "minor": "minor",
    "aeolian": "minor",
    "dorian": "minor",
    "phrygian": "minor",
    "locrian": "minor",
}
# C: values that name a place, a source or a collector rather than a composer.
NOT_COMPOSERS = re.compile(
    r"^(irish|scotch|scottish|english|welsh|welch|american|german|french|gaelic|west india|virginian|trad\w*|old|"
    r"unknown|anon\w*)$|collect|\bfrom\b|\bsung\b|\btune\b|\bair\b|\bjig\b|\breel\b|\bmarch\b|\bset\b|\bregt\b|"
    r"negro|o'neill|cronin|mcfadden|hartnett|mcnamara",
    re.I,
)
# A composer's name as the C: fields write it: "Harry Carleton", "J. Hand", "G.L.Tracy", "Dan Emmett".
PERSON = re.compile(
    r"(?:(?:Mr\.|Mrs\.|[A-Z]\.\s?|[A-Z][a-z]{1,4}\.\s?)*(?:Ma?c|O')?[A-Z][a-z'A-Z]+(?:-[A-Z][a-z]+)?)"
    r"(?:\s(?:(?:[A-Z]\.\s?)*(?:Ma?c|O')?[A-Z][a-z'A-Z]+(?:-[A-Z][a-z]+)?|de|van|von))*"
)
ROMAN = re.compile(r"^[IVXLC]+$")
# ABC text escapes used in a few titles (\'e, \"o, ...) and their characters.
ABC_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "c": "\u0327", "o": "\u030a"}
UNTITLED = re.compile(r"^(untitled|no title|unknown|title|tune|\W*|[\d\W]+)$", re.I)
SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "o'", "de", "la"}


# ---------------------------------------------------------------------------------------------
# Planning: which sources, which tunes, and their raw ABC header fields.


@dataclass(frozen=True)
class Task:
    collection: str
    path: str  # corpus-relative, e.g. "oneills1850/0626-0700.abc"
    number: int | None  # ABC X: number (None: the whole file is one work)
    header: dict[str, list[str]]  # raw ABC header fields of this tune (empty for MusicXML)
    extra: dict[str, str]  # e.g. the chorale title and Riemenschneider number
    order: tuple[int, str, int]  # deterministic output order


def natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def abc_tunes(text: str) -> Iterator[tuple[int, dict[str, list[str]]]]:
    """(X: number, header fields) for each tune of an ABC file; the header stops at the K: field."""
    for block in re.split(r"\n(?=X:)", "\n" + text.replace("\r\n", "\n")):
        match = re.match(r"X:\s*(\d+)", block)
        if not match:
            continue
        fields: dict[str, list[str]] = {}
        for line in block.splitlines()[1:]:
            field = re.match(r"([A-Za-z]):(.*)$", line)
            if not field:
                continue
            fields.setdefault(field.group(1), []).append(field.group(2).split("%", 1)[0].strip())
            if field.group(1) == "K":
                break
        yield int(match.group(1)), fields


def plan(corpus_dir: Path, limit: int) -> list[Task]:
    """Every tune to convert, in output order; with limit > 0 only the first `limit` per collection."""
    from music21 import corpus

    abc_sources = {
        "ryans-mammoth": sorted(corpus_dir.glob("ryansMammoth/*.abc"), key=lambda p: natural_key(p.name)),
        "oneills-music-of-ireland": sorted(corpus_dir.glob("oneills1850/*.abc"), key=lambda p: natural_key(p.name)),
        "airds-airs": sorted(corpus_dir.glob("airdsAirs/*.abc"), key=lambda p: natural_key(p.name)),
        "northumbrian-minstrelsy": [corpus_dir / "miscFolk" / "northumbrianminstrelsyopus.abc"],
    }
    tasks: list[Task] = []
    for rank, collection in enumerate(COLLECTIONS):
        chosen: list[Task] = []
        if collection.key == "bach-chorales":
            # Riemenschneider order; several numbers share one BWV file, keep each file once.
            from music21.corpus import chorales

            seen: set[str] = set()
            rlist = chorales.ChoraleListRKBWV().byRiemenschneider
            for number in sorted(rlist):
                entry = rlist[number]
                found = corpus.getWork("bach/bwv" + str(entry["bwv"]))
                candidates = [Path(str(p)) for p in (found if isinstance(found, list) else [found])]
                work = next(p for p in candidates if p.suffix in (".mxl", ".xml", ".musicxml"))
                rel = work.relative_to(corpus_dir).as_posix()
                if rel in seen:
                    continue
                seen.add(rel)
                extra = {"title": str(entry["title"]), "bwv": str(entry["bwv"]), "riemenschneider": str(number)}
                chosen.append(Task(collection.key, rel, None, {}, extra, (rank, f"{number:04d}", 0)))
        else:
            for path in abc_sources[collection.key]:
                rel = path.relative_to(corpus_dir).as_posix()
                tunes = list(abc_tunes(path.read_text(encoding="latin-1")))
                for number, header in tunes:
                    order = (rank, "/".join(str(k) for k in natural_key(rel)), number)
                    chosen.append(Task(collection.key, rel, number if len(tunes) > 1 else None, header, {}, order))
        tasks.extend(chosen[:limit] if limit > 0 else chosen)
    return tasks


# ---------------------------------------------------------------------------------------------
# Cleaning metadata.


def title_case(text: str) -> str:
    """Title-case an all-capitals title: "LANIGAN'S BALL" -> "Lanigan's Ball", keeping Mc/Mac names."""
    words = text.lower().split(" ")
    out = []
    for index, word in enumerate(words):
        if index and word in SMALL_WORDS:
            out.append(word)
            continue
        word = re.sub(r"(^\W*|[.\-/])([a-z])", lambda m: m.group(1) + m.group(2).upper(), word)
        word = re.sub(
            r"^(\W*)(Ma?c)([a-z]{2})", lambda m: m.group(1) + m.group(2) + m.group(3)[0].upper() + m.group(3)[1:], word
        )
        out.append(word)
    return " ".join(out)


def abc_text(text: str) -> str:
    """Resolve ABC's backslash accents ("Nov\\'elle" -> "Novélle") and Aird's "=" hyphens ("Perth=Shire")."""
    text = re.sub(
        r"\\([`'^\"~co])([A-Za-z])",
        lambda m: unicodedata.normalize("NFC", m.group(2) + ABC_ACCENTS[m.group(1)]),
        text,
    )
    return re.sub(r"(?<=[A-Za-z])=(?=[A-Za-z])", "-", text)


def normalise_rhythm(text: str) -> str | None:
    value = re.sub(r"[^a-z' -]", "", text.lower()).strip(" -")
    value = re.sub(r"\s+", " ", value)
    value = RHYTHM_ALIASES.get(value, value)
    return value if value in KNOWN_RHYTHMS else None


def clean_title(raw: str) -> tuple[str, str | None]:
    """(display title, rhythm named in the title or None); '' when the tune is untitled."""
    title = fix_colons(abc_text(re.sub(r"^T:\s*", "", raw.split("%", 1)[0].strip())))
    title = re.sub(r'"([^"]*)"', r"\1", title)  # Ryan's '"All Aboard" -- Reel'
    title = re.sub(r"\s+", " ", title).strip(" \"'`,;:")
    rhythm: str | None = None
    # Ryan's "LANIGAN'S BALL -- JIG", "LITTLE BROWN JUG - JIG", "MEAL- JIG": the name, then the rhythm
    suffix = re.match(r"^(.*[^\s-])\s*-+\s*([A-Za-z][A-Za-z .']*?)[\s.]*$", title)
    if suffix and ("--" in title or normalise_rhythm(suffix.group(2))):
        name, kind = suffix.group(1), suffix.group(2)
        rhythm = normalise_rhythm(kind)
        title = f"{name.rstrip(' ,')} {kind[:1].upper()}{kind[1:]}" if kind else name
    article = re.match(r"^(.*\S),\s*(The|A|An)\b(.*)$", title, re.I)  # "Kerry Cobbler, The" -> "The Kerry Cobbler"
    if article:
        title = f"{article.group(2)} {article.group(1)}{article.group(3)}"
    letters = [c for c in title if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        title = title_case(title)
    else:  # "THE COOLIN. With Variations", "Jackson's Rolling JIG"
        title = re.sub(
            r"\b[A-Z][A-Z']+[A-Z]\b", lambda m: m.group(0) if ROMAN.match(m.group(0)) else title_case(m.group(0)), title
        )
    title = title.strip(" ,;:")
    if title.endswith(".") and not re.search(r"\b(Mr|Mrs|Dr|St|No|Regt|Esq|Jun|Sen)\.$", title):
        title = title[:-1].rstrip()
    if UNTITLED.match(title):
        return "", None
    if rhythm is None:
        match = TITLE_RHYTHM.search(title)
        if match:
            rhythm = normalise_rhythm(match.group(1))
    return title[:1].upper() + title[1:], rhythm


def fix_colons(text: str) -> str:
    """Ryan's Mammoth's ABC has "at:" for "at" inside words ("Amat:eur", "Golden Gat:e", "Great: Eastern")."""
    return re.sub(r"(?<=[aA][tT]):(?=[-A-Za-z\s]|$)", "", text)


def clean_artist(values: list[str], collection: str) -> str | None:
    """The composer from the ABC C: field, or None when it names a source, a place or a note instead.

    O'Neill's C: fields name the musicians the tunes were collected from, so only O'Carolan is kept.
    """
    for value in values:
        name = fix_colons(value).strip().strip('"').strip()
        name = re.sub(r"\s*\\footnotemark|\s*,?\s*\d{4}$", "", name).strip()
        name = re.sub(r"^(composed\s+)?by\s+", "", name, flags=re.I).rstrip(".").strip()
        if "carolan" in name.lower():
            return "Turlough O'Carolan"
        if collection == "oneills-music-of-ireland" or not name or NOT_COMPOSERS.search(name):
            continue
        if name.upper() == name:
            name = title_case(name)
        name = re.sub(r"\.(?=[A-Z])", ". ", name)  # "G.L.Tracy" -> "G. L. Tracy"
        if PERSON.fullmatch(name) and re.search(r"[A-Z][a-z]{2,}", name):
            return name
    return None


def key_name(tonic: str, mode: str) -> str:
    return f"{tonic.replace('-', 'b')} {mode}"


# ---------------------------------------------------------------------------------------------
# Converting one tune (runs in the worker processes).


def tempo_of(score: Any, header: dict[str, list[str]], rhythm: str | None, metre: tuple[int, int]) -> tuple[int, str]:
    """(quarter-note BPM, how it was chosen)."""
    from music21 import tempo

    compound = metre[1] == 8 and metre[0] % 3 == 0 and metre[0] > 3
    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        if mark.number is not None and not mark.numberImplicit:
            bpm = round(float(mark.getQuarterBPM()))
            if SCORE_TEMPO_RANGE[0] <= bpm <= SCORE_TEMPO_RANGE[1]:
                return bpm, "score"
        break
    if rhythm in RHYTHM_TEMPI:
        bpm = RHYTHM_TEMPI[rhythm][compound]
        return (bpm // 2 if metre == (2, 4) and rhythm in TWO_FOUR_HALVED else bpm), "rhythm"
    words = " ".join(header.get("Q", []) + header.get("N", [])).lower()
    for word, bpm in WORD_TEMPI:
        if word in words:
            return bpm, "word"
    return (DEFAULT_COMPOUND if compound else DEFAULT_SIMPLE), "metre"


def key_of(score: Any) -> tuple[str, str | None]:
    """("G major", mode tag or None): the notated key, modes mapped to their tonic's major/minor."""
    from music21 import key

    first = score.recurse().getElementsByClass(key.Key).first()
    if first is not None and first.mode in MODE_TO_MAJOR_MINOR:
        mode = first.mode
        return key_name(first.tonic.name, MODE_TO_MAJOR_MINOR[mode]), (None if mode in ("major", "minor") else mode)
    analysed = score.analyze("key")
    return key_name(analysed.tonic.name, analysed.mode), None


def note_events(score: Any) -> tuple[list[list[tuple[int, int, int]]], int]:
    """Per part, (start tick, end tick, MIDI pitch) with ties joined; and the last note's end tick."""
    from music21 import harmony

    parts = list(score.parts) or [score]
    out: list[list[tuple[int, int, int]]] = []
    end = 0
    for part in parts:
        events: list[tuple[int, int, int]] = []
        for element in part.stripTies(matchByPitch=True).flatten().notes:
            if isinstance(element, harmony.Harmony):
                continue
            length = Fraction(element.duration.quarterLength)
            if length <= 0:  # grace notes
                continue
            start = round(Fraction(element.offset) * TICKS_PER_BEAT)
            stop = round((Fraction(element.offset) + length) * TICKS_PER_BEAT)
            for pitch in element.pitches:
                midi = int(pitch.midi)
                if 0 <= midi <= 127 and stop > start:
                    events.append((start, stop, midi))
        if events:
            out.append(sorted(set(events)))
            end = max(end, max(stop for _, stop, _ in events))
    return out, end


def valid_metre(numerator: int, denominator: int) -> bool:
    return 1 <= numerator <= 32 and denominator in (1, 2, 4, 8, 16, 32)


def once_through(score: Any) -> bool:
    """Make the score play once through as written: where a passage has first and second (third...)
    endings, keep only the last one, so the tune runs on without a hiccup. Repeats are not repeated.
    Works in place on every part, by the first part's endings; returns whether anything was left out.

    (music21's expandRepeats would write the repeats out, but in 10.5 it reads ABC's "A :| B :|" as
    A A B A B, fails on some tunes and multiplies others hundreds of times over; once through is
    also what the notation shows, and half the size.)
    """
    from music21 import spanner, stream

    parts = list(score.parts) or [score]
    first = parts[0]
    spans: set[tuple[Fraction, Fraction]] = set()
    for bracket in first.spannerBundle.getByClass(spanner.RepeatBracket):
        measures = [m for m in bracket.getSpannedElements() if isinstance(m, stream.Measure)]
        if measures:
            start = min(Fraction(m.getOffsetInHierarchy(first)) for m in measures)
            end = max(Fraction(m.getOffsetInHierarchy(first)) + Fraction(m.duration.quarterLength) for m in measures)
            spans.add((start, end))
    ordered = sorted(spans)
    # an ending followed straight away by another ending is not the last one
    dropped = [span for span, following in itertools.pairwise(ordered) if following[0] == span[1]]
    if not dropped:
        return False
    for part in parts:
        doomed = [
            m for m in part.getElementsByClass(stream.Measure) if any(lo <= Fraction(m.offset) < hi for lo, hi in dropped)
        ]
        if doomed:
            part.remove(doomed, shiftOffsets=True)
    return True


def time_signatures(score: Any) -> list[tuple[int, int, int]]:
    """(tick, numerator, denominator) for the time signatures of the first part."""
    from music21 import meter

    part = score.parts[0] if score.parts else score
    out: list[tuple[int, int, int]] = []
    for ts in part.recurse().getElementsByClass(meter.TimeSignature):
        if not valid_metre(ts.numerator, ts.denominator):
            continue  # music21 makes "1/6" bars out of some ABC tuplet bars; MIDI cannot say that
        tick = round(Fraction(ts.getOffsetInHierarchy(part)) * TICKS_PER_BEAT)
        if not out or (out[-1][1], out[-1][2]) != (ts.numerator, ts.denominator):
            out.append((tick, ts.numerator, ts.denominator))
    return out


def write_midi(
    parts: list[list[tuple[int, int, int]]], bpm: int, signatures: list[tuple[int, int, int]], program: int
) -> bytes:
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor: list[tuple[int, int, Any]] = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))]
    for tick, numerator, denominator in signatures or [(0, 4, 4)]:
        conductor.append((tick, 1, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)))
    midi.tracks.append(_track(sorted(conductor, key=lambda e: (e[0], e[1]))))
    channels = [c for c in range(16) if c != 9]
    for index, events in enumerate(parts[: len(channels)]):
        channel = channels[index]
        timed: list[tuple[int, int, Any]] = [(0, -1, mido.Message("program_change", channel=channel, program=program))]
        for start, stop, pitch in events:
            # note-offs sort before note-ons at the same tick; a note-off is a note_on with velocity 0
            timed.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=VELOCITY)))
            timed.append((stop, 0, mido.Message("note_on", channel=channel, note=pitch, velocity=0)))
        timed.sort(key=lambda e: (e[0], e[1], e[2].note if e[2].type == "note_on" else -1))
        midi.tracks.append(_track(timed))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _track(timed: list[tuple[int, int, Any]]) -> Any:
    import mido

    track = mido.MidiTrack()
    now = 0
    for tick, _, message in timed:
        track.append(message.copy(time=tick - now))
        now = tick
    return track


def convert(task: Task) -> tuple[dict[str, Any] | None, str]:
    """One catalog record for a tune, or (None, why it was skipped)."""
    from music21 import corpus, meter, stream

    collection = COLLECTION_BY_KEY[task.collection]
    try:
        score = corpus.parse(task.path, number=task.number, forceSource=True)
    except Exception as exc:  # noqa: BLE001  (a bad tune is skipped, not fatal)
        return None, f"parse error: {type(exc).__name__}"
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if not scores:
            return None, "empty opus"
        score = scores[0]

    if task.collection == "bach-chorales":
        title = f"{task.extra['title']} (BWV {task.extra['bwv']})"
        rhythm: str | None = "chorale"
    else:
        raw = (task.header.get("T") or [""])[0] or str(score.metadata.title or "")
        title, rhythm = clean_title(raw)
        for value in task.header.get("R", []):
            rhythm = normalise_rhythm(value) or rhythm
    if not title:
        return None, "untitled"

    parts = list(score.parts) or [score]
    bars = len(parts[0].getElementsByClass(stream.Measure))
    if bars < MIN_BARS:
        return None, f"fewer than {MIN_BARS} bars"
    note = "first-time endings left out" if once_through(score) else ""
    try:
        events, end = note_events(score)
    except Exception as exc:  # noqa: BLE001
        return None, f"note error: {type(exc).__name__}"
    if not events or end <= 0:
        return None, "no notes"

    metres = [(ts.numerator, ts.denominator) for ts in score.recurse().getElementsByClass(meter.TimeSignature)]
    numerator, denominator = next((m for m in metres if valid_metre(*m)), (4, 4))
    bpm, _how = tempo_of(score, task.header, rhythm, (numerator, denominator))
    try:
        key, mode = key_of(score)
    except Exception as exc:  # noqa: BLE001
        return None, f"key error: {type(exc).__name__}"

    signatures = time_signatures(score) or [(0, numerator, denominator)]
    midi = write_midi(events, bpm, signatures, collection.program)
    seconds = round(end / TICKS_PER_BEAT * 60 / bpm, 3)
    if seconds > MAX_SECONDS:
        return None, "longer than 30 minutes"

    artist = collection.artist
    if task.collection != "bach-chorales":
        artist = clean_artist(task.header.get("C", []), task.collection) or collection.artist
    tags: list[str] = []
    for tag in ([rhythm] if rhythm else []) + list(collection.tags) + ([mode] if mode else []):
        if tag == "traditional" and artist != "Traditional":
            continue  # O'Carolan's and the named 19th-century composers' tunes
        if tag not in tags:
            tags.append(tag)

    number = task.number if task.number is not None else 0
    if task.collection == "bach-chorales":
        source = f"music21 corpus: {task.path} (Riemenschneider {task.extra['riemenschneider']})"
    else:
        source = f"music21 corpus: {task.path}" + (f" #{task.number}" if task.number is not None else "")
    digest = hashlib.sha256(f"{task.collection}|{task.path}|{number}".encode()).hexdigest()[:16]
    record = {
        "songId": f"pd-{digest}",
        "title": title,
        "artist": artist,
        "collection": task.collection,
        "source": source,
        "licence": collection.licence,
        "key": key,
        "tempoBpm": bpm,
        "timeSignature": f"{numerator}/{denominator}",
        "durationSeconds": seconds,
        "tags": tags,
        "midi": base64.b64encode(midi).decode("ascii"),
    }
    return record, note


def _work(item: tuple[int, Task]) -> tuple[int, dict[str, Any] | None, str]:
    index, task = item
    try:
        record, why = convert(task)
    except Exception as exc:  # noqa: BLE001  (never lose the whole run to one tune)
        record, why = None, f"error: {type(exc).__name__}: {exc}"[:200]
    return index, record, why


def _init_worker() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import music21  # noqa: F401  (import once per process)


# ---------------------------------------------------------------------------------------------
# Assembling and writing.


def dedupe_key(record: dict[str, Any]) -> tuple[str, str]:
    title = re.sub(r"^(the|a|an) ", "", record["title"].casefold())
    return record["collection"], re.sub(r"[^\w]+", " ", title).strip()


def oneill_number(task: Task) -> str | None:
    for value in task.header.get("B", []):
        match = re.search(r"O'Neill's\s*(\d+)", value)
        if match:
            return match.group(1)
    return str(task.number) if task.collection == "oneills-music-of-ireland" and task.number is not None else None


def assemble(
    tasks: list[Task], results: dict[int, tuple[dict[str, Any] | None, str]]
) -> tuple[list[dict[str, Any]], Counter[str], Counter[str]]:
    """The songs in output order without duplicates; why tunes were skipped; notes on kept songs."""
    songs: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for index in sorted(range(len(tasks)), key=lambda i: tasks[i].order):
        record, why = results[index]
        task = tasks[index]
        if record is None:
            skipped[why] += 1
            continue
        keys = {dedupe_key(record)}
        number = oneill_number(task) if task.collection == "oneills-music-of-ireland" else None
        if number is not None:
            keys.add((task.collection, f"#{number}"))
        if keys & seen:
            skipped["duplicate"] += 1
            continue
        seen |= keys
        songs.append(record)
        if why:
            notes[why] += 1
    return songs, skipped, notes


def header_record(
    songs: list[dict[str, Any]], music21_version: str, skipped: Counter[str], notes: Counter[str]
) -> dict[str, Any]:
    counts = Counter(song["collection"] for song in songs)
    return {
        "format": FORMAT,
        "music21Version": music21_version,
        "songs": len(songs),
        "ticksPerBeat": TICKS_PER_BEAT,
        "build": {"skipped": dict(skipped), "notes": dict(notes)},
        "collections": {
            c.key: {
                "name": c.name,
                "date": c.date,
                "corpus": c.corpus,
                "publicDomain": c.public_domain,
                "encoding": c.encoding,
                "licence": c.licence,
                "songs": counts.get(c.key, 0),
            }
            for c in COLLECTIONS
        },
    }


def write_catalog(path: Path, header: dict[str, Any], songs: list[dict[str, Any]]) -> bytes:
    lines = [json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":"))]
    lines += [json.dumps(song, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for song in songs]
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def readme_text(header: dict[str, Any], size: int) -> str:
    rows = []
    for c in COLLECTIONS:
        rows.append(
            f"| `{c.key}` | {c.name} | {c.date} | {header['collections'][c.key]['songs']} | {c.public_domain} | "
            f"{c.encoding} |"
        )
    excluded = "\n".join(f"- `{what}`: {why}" for what, why in EXCLUDED)
    build = header["build"]
    skipped = "; ".join(f"{why}: {n}" for why, n in sorted(build["skipped"].items())) or "none"
    notes = "; ".join(f"{why}: {n}" for why, n in sorted(build["notes"].items())) or "none"
    rhythm_tempi = ", ".join(f"{name} {s}/{c}" for name, (s, c) in RHYTHM_TEMPI.items())
    halved = ", ".join(sorted(TWO_FOUR_HALVED))
    word_tempi = ", ".join(f'"{word}" {bpm}' for word, bpm in WORD_TEMPI)
    return f"""# Blend seed catalog

`seed-catalog.jsonl.gz` is the public-domain song catalog that Blend starts with: {header["songs"]} titled tunes,
each with a small MIDI file. It is generated, do not edit it by hand: `python tools/build_seed_catalog.py`
rebuilds it (and this README) byte for byte from music21 {header["music21Version"]}'s bundled corpus
(music21 is an offline tool dependency, requirements/train.txt). The runtime reader is
`soundcanvas.blend.seed` (stdlib only). Size: {size:,} bytes.

## Format

gzip (mtime 0) of UTF-8 JSON lines. Line 1 is a header: `format` ("{FORMAT}"), `music21Version`, `songs`,
`ticksPerBeat`, `build` (why tunes were skipped, notes on kept ones) and `collections` (the table below,
keyed by collection). Every other line is one song:
`songId` ("pd-" + 16 hex digits of sha256 of collection, corpus path and ABC number), `title` (the first
T: field, tidied: "Kerry Cobbler, The" becomes "The Kerry Cobbler", all-capital titles are title-cased, Ryan's
"LANIGAN'S BALL -- JIG" becomes "Lanigan's Ball Jig"; the chorales: title and BWV number), `artist`
(the ABC C: field as the source gives it when it looks like a person's name, else "Traditional"; O'Neill's
C: fields name the musicians tunes were collected from, so there only O'Carolan is kept; the chorales:
Johann Sebastian Bach), `collection`, `source` (corpus path and ABC X: number, or the chorale's
Riemenschneider number), `licence`, `key` ("G major"/"E minor": the notated
key; modal keys are given as their tonic's major or minor, e.g. A dorian is "A minor" with a "dorian" tag;
music21's key analysis only when no key is notated), `tempoBpm` (quarter notes per minute), `timeSignature`
(the first one), `durationSeconds` (of the MIDI, to the last note off; each tune is played once through as
written: repeats are not repeated and of first/second endings only the last is kept, so the tune runs on;
music21 10.5's repeat expansion misreads ABC's "A :| B :|" as A A B A B and blows some tunes up hundreds of
times), `tags` (rhythm, then the collection's tags, "traditional" only when there is no named composer, then
the mode) and `midi` (base64 of a type-1 Standard MIDI File: a conductor track with the tempo and time
signatures, then one track per part with a General MIDI program change and the notes at
one velocity; {TICKS_PER_BEAT} ticks per quarter note).

Tempo: the tune's own Q: field when it has a number (only Aird's Airs has them; one "Q:3/4=120" in 3/4,
360 quarters a minute, is taken for a slip: Q: values outside 40-300 are ignored); else a default for its
rhythm, from the R: field, Ryan's "Title -- Reel" suffix or a rhythm word ending the title (quarter notes per
minute in simple/compound metre: {rhythm_tempi}; halved for {halved} written in 2/4, which use sixteenths
for the same two beats a bar); else a tempo word in Q:/N: ({word_tempi}); else {DEFAULT_COMPOUND} in
compound metres (dotted quarter = 100) and {DEFAULT_SIMPLE} otherwise. These are moderate session and
dance tempi chosen for this catalog, not historical facts. One tempo per tune.

Kept: tunes with a title, at least {MIN_BARS} bars and notes, that parse. Duplicates (same collection and
normalised title, or the same O'Neill number, which the corpus has in two overlapping transcriptions) keep
the first in corpus order. Chorale titles carry their BWV number, since Bach harmonised many melodies more
than once. This build skipped {skipped}. Kept with a note: {notes}.

## Collections and licences

The music in every collection below is in the public domain (in the United States at least, where all of it
was published or composed before 1930; see each row for the rest of the world). The digital encodings are
another matter: music21 itself is BSD-3-Clause, but its `corpus/license.txt` says "the music21 creators
assume no copyright or change in licensing for content distributed in the corpus", that the encodings are
"distributed with the permission of the encoders" and "may be under copyright but have been licensed for
use, though there may be restrictions on commercial use", pointing to licences embedded in files or
directories. None of the ABC files used here embeds a licence; the Bach MusicXML files carry "PDF (c) 2004
Margaret Greentree - used by permission". The catalog keeps only the notes, re-rendered as MIDI, plus titles
and basic facts; it does not redistribute the encodings' layout, editorial notes or credits. Treat the
catalog as public-domain music in third-party encodings used by permission through music21, not as
BSD-licensed data.

| collection | what | date | songs | why public domain | encoding and its licence |
| --- | --- | --- | ---: | --- | --- |
{chr(10).join(rows)}

## Left out

{excluded}
"""


def run(tasks: list[Task], jobs: int) -> dict[int, tuple[dict[str, Any] | None, str]]:
    results: dict[int, tuple[dict[str, Any] | None, str]] = {}
    started = time.monotonic()
    last = started
    kept = 0
    # Biggest ABC books first is not needed: tasks are single tunes, so the pool stays balanced.
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_init_worker) as pool:
        for done, (index, record, why) in enumerate(pool.imap_unordered(_work, enumerate(tasks), chunksize=4), 1):
            results[index] = (record, why)
            kept += record is not None
            now = time.monotonic()
            if now - last >= 10 or done == len(tasks):
                last = now
                rate = done / (now - started)
                log.info(
                    "%5d/%d tunes, %d converted, %.0f s elapsed, ~%.0f s left",
                    done,
                    len(tasks),
                    kept,
                    now - started,
                    (len(tasks) - done) / rate if rate else 0,
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the .jsonl.gz catalog")
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="where to write the README (default: next to the default output; not written for other outputs unless given)",
    )
    parser.add_argument("--limit", type=int, default=0, help="convert the first N tunes of each collection only (0 = all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    import music21

    corpus_dir = Path(music21.__file__).resolve().parent / "corpus"
    started = time.monotonic()
    tasks = plan(corpus_dir, args.limit)
    log.info("converting %d tunes with music21 %s on %d processes", len(tasks), music21.__version__, args.jobs)
    results = run(tasks, max(1, args.jobs))
    songs, skipped, notes = assemble(tasks, results)
    header = header_record(songs, str(music21.__version__), skipped, notes)
    data = write_catalog(args.output, header, songs)
    readme = args.readme if args.readme is not None else (DEFAULT_README if args.output == DEFAULT_OUTPUT else None)
    if readme is not None:
        readme.parent.mkdir(parents=True, exist_ok=True)
        readme.write_text(readme_text(header, len(data)), encoding="utf-8")

    counts = ", ".join(f"{key} {value['songs']}" for key, value in header["collections"].items())
    skips = ", ".join(f"{why} {n}" for why, n in sorted(skipped.items()))
    kept = ", ".join(f"{why} {n}" for why, n in sorted(notes.items()))
    sys.stdout.write(
        f"wrote {args.output} ({len(data)} bytes) in {time.monotonic() - started:.0f} s: {len(songs)} songs "
        f"({counts}); skipped: {skips or 'none'}; kept with notes: {kept or 'none'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
