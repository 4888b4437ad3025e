"""Erasing an account from Maps' community: what the user made for the community stays, under one anonymous id.

`DELETE /me` (functions/core/account_api) calls `anonymize` before it deletes the user's own records. Every
place Maps keeps a user id that outlives the account is renamed to the account's anonymous id
(`EditStore.erasure_id`: `deleted-` and random hex, kept until the erase ends, so a retry names every item the
same and the history stays consistent):

    MapsTable       a map with community history: its record moves to the anonymous partition (`MapStore.move`)
    CommunityTable  the user's edits (`author`, comments cleared) and the versions they made; their votes
                    (`vote#{id}` sort keys, moved; reasons dropped); `decidedBy` of the edits their vote decided;
                    `mapUserId` of every edit of their maps; the ledger entries their decisions and grants earned
                    others (`fromUser`, and a grant's sort key and entity) and those users' daily counters of gains
                    from them (`gain#{day}#{id}`, moved). Amounts and running totals do not change.
    SongsTable      `audioBy` of the recordings they gave to catalog songs

Each step is conditional and finds only what still names the user, so a second erase, or one retried after a
crash, changes nothing twice and loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.edits import EditStore
from soundcanvas.maps.karma import KarmaStore
from soundcanvas.maps.song_audio import SongAudioStore


@dataclass(frozen=True)
class Anonymized:
    maps_kept: int  # map records moved to the anonymous partition by this call
    items: int  # community items and song records renamed


def anonymize(user_id: str, anonymous_id: str, *, maps: MapStore, edit_store: EditStore, karma_store: KarmaStore,
              songs: SongAudioStore) -> Anonymized:
    """Rename `user_id` to `anonymous_id` wherever Maps keeps it beyond the user's own records. The user's maps
    without community history stay in their partition (the caller deletes them with their documents)."""
    own = [maps.plain(record) for record in maps.model.query(user_id)]
    kept = sum(maps.move(user_id, record["mapId"], anonymous_id) for record in own if maps.has_history(record))
    items = (edit_store.anonymize(user_id, anonymous_id) + karma_store.anonymize_decider(user_id, anonymous_id)
             + songs.forget_giver(user_id, anonymous_id))
    return Anonymized(maps_kept=kept, items=items)
