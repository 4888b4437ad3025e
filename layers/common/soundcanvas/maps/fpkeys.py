"""The fingerprint index's keys, without numpy or Chromaprint: the functions that only delete (a track's
DELETE, the account erase) import this module alone, and soundcanvas.maps.fpindex builds on it.

An audio is named by `audio_ref(scope, kind, id)`, 8 bytes of BLAKE2b; its item is `a#{ref hex}` and
holds the fingerprint, the title and the artist. Term items are keyed by scope: "public", or a
user's scope tag (BLAKE2b of the user id), so no key carries a user id.

Deleting an audio item is what takes a recording out of the index: identify and find_duplicates
rescore every candidate against its audio item and skip those that have none, so postings left in
term items (8-byte hashes and positions) match nothing. `FingerprintIndex.remove` also removes the
postings when the caller can read the fingerprint (the Maps functions).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

PUBLIC_SCOPE = "public"
BATCH_WRITE = 25


def audio_ref(scope: str, kind: str, audio_id: str) -> bytes:
    """8 bytes naming an audio in postings: short (postings are most of the table) and uniform."""
    return hashlib.blake2b(f"{scope}\x1f{kind}\x1f{audio_id}".encode(), digest_size=8).digest()


def audio_key(ref: bytes) -> str:
    return f"a#{ref.hex()}"


def song_scope(song: Mapping[str, Any]) -> str:
    """The scope a catalog song's recording is indexed in: "public" for a public song, its owner's otherwise (the
    one rule for the Fingerprint function that indexes it and the song's DELETE that takes it out)."""
    return PUBLIC_SCOPE if song.get("visibility") == "public" else str(song.get("ownerId"))


def scope_tag(scope: str) -> str:
    """"public", or 16 hex digits standing for a user's scope in term keys."""
    if scope == PUBLIC_SCOPE:
        return scope
    return hashlib.blake2b(f"scope\x1f{scope}".encode(), digest_size=8).hexdigest()


def term_key(prefix: str, scope: str, term: int, digits: int = 4) -> str:
    return f"{prefix}#{scope_tag(scope)}#{term:0{digits}x}"


def delete_audio_items(dynamodb: Any, table_name: str, scope: str, audios: Iterable[tuple[str, str]]) -> int:
    """Delete the audio items of (kind, id) pairs in one scope (BatchWriteItem, 25 a request); returns how many
    were asked for (deleting an item that is not there is not an error)."""
    keys = sorted({audio_key(audio_ref(scope, kind, audio_id)) for kind, audio_id in audios})
    for start in range(0, len(keys), BATCH_WRITE):
        requests = [{"DeleteRequest": {"Key": {"pk": {"S": key}}}} for key in keys[start:start + BATCH_WRITE]]
        pending = {table_name: requests}
        for attempt in range(8):
            unprocessed = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            pending = unprocessed
            time.sleep(0.05 * 2**attempt)  # throttled: back off (6.4 s at most in all)
    return len(keys)
