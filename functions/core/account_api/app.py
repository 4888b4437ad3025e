"""Account API: everything SoundCanvas holds about the caller, to take away or to erase.

- `GET /me/export`: a manifest (JSON) of every generation, track, transcription, blend, own song and drum map, the
  review history and the preferences, each file as a presigned URL; the manifest itself is written to the bucket
  (`exports/{userId}/{random}.json`, kept a day) and returned as a presigned URL, so an export of
  a large library is not limited by the API's response size.
- `DELETE /me`: every record (generations, tracks, transcriptions, blends, own songs, drum maps, preferences), the
  fingerprints of the user's tracks and songs, and every object under each of the user's prefixes, each own
  song's and each map document, the karma ledger, then reports what was removed. Map edits and votes the user
  made stay in the maps' history under an anonymous author id (`deleted-` and random hex), without their
  comments and reasons; their pending edits are withdrawn. That one id replaces the user's everywhere Maps
  keeps it beyond their own records (soundcanvas.maps.erasure): a kept map's record, other users' ledger
  entries their decisions earned, a catalog song's recording they gave.
  Then the caller's live-progress WebSocket connections are forgotten and closed, so nothing more is pushed to them.
  Idempotent: a second call removes nothing.
  A workflow still running for a deleted job or track finds its record gone and removes what it
  wrote. Quota counters hold a count and nothing else and expire a day after their window (minutes to a calendar
  month) ends; they are kept so that an erase cannot hand the caller's allowances back.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from soundcanvas.blend import blends as blend_records
from soundcanvas.blend import songs as catalog
from soundcanvas.core import api, live, storage
from soundcanvas.core.billing import BillingStore
from soundcanvas.core.entitlements import EntitlementStore
from soundcanvas.core.notifications import ContactStore, NotificationStore, public_view
from soundcanvas.core.records import now_iso
from soundcanvas.core.settings import Settings
from soundcanvas.generation import jobs
from soundcanvas.library.tracks import TrackStore, UserSettingsStore, public_fields
from soundcanvas.listen import transcriptions as listen
from soundcanvas.listen.preferences import PreferencesStore
from soundcanvas.maps import erasure, fpkeys
from soundcanvas.maps.drum_maps import COMPLETE as MAP_COMPLETE
from soundcanvas.maps.drum_maps import MapStore
from soundcanvas.maps.edits import EditStore
from soundcanvas.maps.karma import KarmaStore
from soundcanvas.maps.song_audio import SongAudioStore

logger = Logger()
aws = botocore.session.Session()  # botocore's own: boto3 adds 20 ms to a cold start (docs/clients.md)
metrics = Metrics()
settings = Settings.from_env(need=("TRACKS_TABLE_NAME", "USERS_TABLE_NAME", "TRANSCRIPTIONS_TABLE_NAME",
                                   "BLENDS_TABLE_NAME", "SONGS_TABLE_NAME", "MAPS_TABLE_NAME",
                                   "FINGERPRINTS_TABLE_NAME", "COMMUNITY_TABLE_NAME", "NOTIFICATIONS_TABLE_NAME",
                                   "BILLING_TABLE_NAME", "CONNECTIONS_TABLE_NAME", "WEBSOCKET_ENDPOINT"))
s3 = aws.create_client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
generations = jobs.JobStore(settings.table_name, settings.region, host=settings.dynamodb_endpoint)
tracks = TrackStore(settings.tracks_table_name, settings.region, host=settings.dynamodb_endpoint)
user_settings = UserSettingsStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
listen_preferences = PreferencesStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
transcriptions = listen.TranscriptionStore(settings.transcriptions_table_name, settings.region,
                                           host=settings.dynamodb_endpoint)
blend_store = blend_records.BlendStore(settings.blends_table_name, settings.region, host=settings.dynamodb_endpoint)
song_store = catalog.SongStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint)
map_store = MapStore(settings.maps_table_name, settings.region, host=settings.dynamodb_endpoint)
song_audio = SongAudioStore(settings.songs_table_name, settings.region, host=settings.dynamodb_endpoint)
notifications = NotificationStore(settings.notifications_table_name, settings.region, host=settings.dynamodb_endpoint)
contacts = ContactStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
entitlements = EntitlementStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
billing = BillingStore(settings.billing_table_name, settings.region, host=settings.dynamodb_endpoint)
karma_store = KarmaStore(settings.community_table_name, settings.region, host=settings.dynamodb_endpoint)
edit_store = EditStore(settings.community_table_name, settings.region, maps=map_store, karma_store=karma_store, s3=s3,
                       bucket=settings.bucket_name, host=settings.dynamodb_endpoint)
dynamodb = aws.create_client("dynamodb", region_name=settings.region)
clock = time.time  # the local stack sets its own clock here
USER_PREFIXES = (*storage.PREFIXES, "library", "listen", "blends", "exports", "maps/work", "identify")
EXPORT_URL_SECONDS = 900  # presigned URLs in an export live 15 minutes, the longest the API hands out

app = api.resolver()


def _url(key: str | None, download_as: str | None = None) -> str | None:
    return storage.presign_get(s3, settings.bucket_name, key, EXPORT_URL_SECONDS, download_as=download_as)


def _generation_entry(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "jobId": job["jobId"],
        "status": job["status"],
        "createdAt": job["createdAt"],
        "options": job.get("options"),
        "params": job.get("params"),
        "errorMessage": job.get("errorMessage"),
        "files": {name: _url(job.get(field)) for name, field in (
            ("picture", "imageKey"), ("midi", "midiKey"), ("audio", "audioKey"), ("preview", "previewKey"))
            if job.get(field) and (field == "imageKey" or job["status"] == jobs.COMPLETE)},
    }


def _track_entry(track: dict[str, Any]) -> dict[str, Any]:
    return {
        **public_fields(track),
        "createdAt": track["createdAt"],
        "reviews": [{"at": now_iso(at), "grade": grade} for at, grade in json.loads(track.get("reviews") or "[]")],
        "files": {name: _url(track.get(field), download_as) for name, field, download_as in (
            ("original", "originalKey", track["fileName"]), ("mp3", "mp3Key", None), ("cover", "coverKey", None))
            if track.get(field) and track["status"] == "READY"},
    }


def _transcription_entry(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == listen.COMPLETE else {}
    return {
        "transcriptionId": record["transcriptionId"],
        "status": record["status"],
        "createdAt": record["createdAt"],
        "source": record.get("source"),
        "options": record.get("options"),
        "summary": record.get("summary"),
        "errorMessage": record.get("errorMessage"),
        "files": {name: _url(outputs.get(field)) for name, field in (
            ("midi", "midiKey"), ("tab", "tabKey"), ("tabFile", "tabFileKey"), ("result", "resultKey"))
            if outputs.get(field)},
    }


def _blend_entry(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == blend_records.COMPLETE else {}
    return {
        "blendId": record["blendId"],
        "status": record["status"],
        "createdAt": record["createdAt"],
        "songs": record.get("songs"),
        "options": record.get("options"),
        "summary": record.get("summary"),
        "errorMessage": record.get("errorMessage"),
        "files": {name: _url(outputs.get(field)) for name, field in (
            ("midi", "midiKey"), ("audio", "audioKey"), ("mp3", "mp3Key")) if outputs.get(field)},
    }


def _song_entry(record: dict[str, Any]) -> dict[str, Any]:
    ready = record["status"] == catalog.READY
    return {**catalog.public_view(record, clock()),
            "files": {"midi": _url(record.get("midiKey"))} if ready and record.get("midiKey") else {}}


def _map_entry(record: dict[str, Any]) -> dict[str, Any]:
    outputs = (record.get("outputs") or {}) if record["status"] == MAP_COMPLETE else {}
    return {
        "mapId": record["mapId"],
        "status": record["status"],
        "createdAt": record["createdAt"],
        "songId": record.get("songId"),
        "source": {k: v for k, v in (record.get("source") or {}).items() if k != "audioKey"},
        "summary": record.get("summary"),
        "errorMessage": record.get("errorMessage"),
        "files": {"map": _url(outputs["mapKey"])} if outputs.get("mapKey") else {},
    }


def _community_entry(user_id: str) -> dict[str, Any]:
    """The user's map edits (with their patches), votes and karma ledger."""
    edits, votes = edit_store.by_author(user_id)
    return {"edits": [{k: v for k, v in edit.items() if k != "mapUserId"} for edit in edits], "votes": votes,
            **karma_store.export(user_id)}


@app.get("/me/export")
def export_me() -> dict[str, Any]:
    user_id = api.caller(app)
    now = clock()
    manifest = {
        "userId": user_id,
        "exportedAt": now_iso(now),
        "urlsExpireInSeconds": EXPORT_URL_SECONDS,
        "preferences": {**user_settings.training(user_id), **listen_preferences.get(user_id),
                        "emailNotifications": contacts.get(user_id).email_notifications},
        "email": contacts.get(user_id).email,
        "plan": {k: v for k, v in entitlements.get(user_id).items() if v is not None},
        "generations": [_generation_entry(job) for job in generations.all_records(user_id)],
        "tracks": [_track_entry(track) for track in tracks.all_tracks(user_id)],
        "transcriptions": [_transcription_entry(record) for record in transcriptions.all_records(user_id)],
        "blends": [_blend_entry(record) for record in blend_store.all_records(user_id)],
        "songs": [_song_entry(record) for record in song_store.owned(user_id)],
        "maps": [_map_entry(record) for record in map_store.all_records(user_id)],
        "community": _community_entry(user_id),
        "notifications": [public_view(record) for record in notifications.all_records(user_id)],
    }
    # 192 random bits, nothing else after the user's prefix: a key cannot be guessed from another (a timestamp
    # could be, within a few tries). The prefix is what DELETE /me and the bucket's expire-exports rule match.
    key = f"exports/{user_id}/{secrets.token_urlsafe(24)}.json"
    s3.put_object(Bucket=settings.bucket_name, Key=key, Body=json.dumps(manifest, indent=2).encode(),
                  ContentType="application/json")
    counts = {name: len(manifest[name]) for name in ("generations", "tracks", "transcriptions", "blends", "songs",
                                                                "maps", "notifications")}
    metrics.add_metric(name="AccountExports", unit=MetricUnit.Count, value=1)
    logger.info("export written", extra=counts)
    return {"manifestUrl": _url(key, download_as="soundcanvas-export.json"),
            "expiresInSeconds": EXPORT_URL_SECONDS, "counts": counts}


@app.delete("/me")
def delete_me() -> dict[str, Any]:
    user_id = api.caller(app)
    own_songs = [record["songId"] for record in song_store.owned(user_id)]
    song_objects = sum(storage.delete_prefix(s3, settings.bucket_name, catalog.prefix(song_id)) for song_id in own_songs)
    # Fingerprints: the audio items (fingerprint, title) of every track and own song; see soundcanvas.maps.fpkeys.
    fingerprinted = [("track", track["trackId"]) for track in tracks.all_tracks(user_id)]
    fingerprinted += [("song", song_id) for song_id in own_songs]
    fingerprints = fpkeys.delete_audio_items(dynamodb, settings.fingerprints_table_name, user_id, fingerprinted)
    customer = entitlements.get(user_id).get("stripeCustomerId")  # read before the user item goes
    # A map with community history (versions by others, or verified) stays, moved to the anonymous author id
    # that the user's edits, votes, decisions and given recordings get too (one id, kept until the erase ends, so
    # a retry names everything the same); every other map goes with its document.
    anonymous_id = edit_store.erasure_id(user_id)
    anonymized = erasure.anonymize(user_id, anonymous_id, maps=map_store, edit_store=edit_store,
                                   karma_store=karma_store, songs=song_audio)
    gone_maps = [map_store.plain(record) for record in map_store.model.query(user_id)]
    map_documents = [key for record in gone_maps if (key := (record.get("outputs") or {}).get("mapKey"))]
    for key in map_documents:
        s3.delete_object(Bucket=settings.bucket_name, Key=key)
    removed = {
        "generations": generations.delete_all(user_id),
        "tracks": tracks.delete_all(user_id),
        "transcriptions": transcriptions.delete_all(user_id),
        "blends": blend_store.delete_all(user_id),
        "songs": sum(song_store.delete(song_id) for song_id in own_songs),
        "maps": sum(map_store.delete(user_id, record["mapId"]) for record in gone_maps),
        "mapsKept": anonymized.maps_kept,
        "fingerprints": fingerprints,
        # Edits, votes and decisions stay in the maps' history under the anonymous id; comments and reasons go.
        "communityItemsAnonymized": anonymized.items,
        "karmaItems": karma_store.delete_all(user_id),
        "notifications": notifications.delete_all(user_id),
        # The plan lives on the user item (deleted below); the Stripe customer itself stays at Stripe.
        "billingCustomerLinks": int(billing.forget_customer(customer)) if customer else 0,
        "preferences": user_settings.delete(user_id),
        "objects": song_objects + len(map_documents) + sum(
            storage.delete_prefix(s3, settings.bucket_name, f"{prefix}/{user_id}/") for prefix in USER_PREFIXES),
    }
    # After the records: a client that reconnects at once (its token is still valid) finds nothing to follow.
    publisher = live.publisher()  # its table and endpoint are in `need` above
    removed["connections"] = publisher.close_user(user_id) if publisher is not None else 0
    edit_store.end_erasure(user_id)  # last: a retry of an erase cut short reuses the anonymous id
    metrics.add_metric(name="AccountsDeleted", unit=MetricUnit.Count, value=1)
    logger.info("account data deleted", extra=removed)
    return {"userId": user_id, "removed": removed}


api.install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
