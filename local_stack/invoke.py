"""`python -m local_stack invoke FUNCTION -e EVENT`: a Docker-free `sam local invoke`.

Runs the function's handler in a fresh local stack. The events in events/ all speak of one
demo job (user `demo-user`, job DEMO_JOB_ID) or one demo track (DEMO_TRACK_ID, the tagged
events/library/audio/demo-track.flac); before the call the stack is seeded so that the event makes
sense: the job or track exists with its file uploaded, the workflow steps before the invoked
one have run (a step's event is the previous steps' output), and for API functions the demo
job is complete and the demo track READY. Maps' events speak of one demo map (DEMO_MAP_ID) of
events/maps/groove.mp3. The API authorizer's event carries a placeholder
(`Bearer <an ID token for demo-user>`): it is replaced by a fresh token from the local identity
provider, since a real token in a file would expire (so is the token of the WebSocket API's `$connect` event,
whose subscribe event then runs on that connection, for the demo job). So is a Stripe webhook event's
`Stripe-Signature` placeholder: it is signed with the local stack's webhook secret at the call.

`invoke_chain` (`invoke FUNCTION -e EVENT --then FUNCTION EVENT ...`) invokes several functions in turn on one
stack: each call is seeded as it would be alone, except that what the calls before it did on that stack is not
done again (the demo job, track, ... is created once; a workflow step that already ran, invoked or while seeding,
does not run again). A chain of a workflow's steps in order thus runs each step once, on what the steps before
it left, as the workflow would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from local_stack.stack import ROOT, LocalStack

DEMO_USER = "demo-user"
DEMO_JOB_ID = "5ca1ab1e0000400080000000000c0de1"
DEMO_OPTIONS = {"genre": None, "mode": "heuristic", "durationSeconds": 30, "seed": 7}
WORKFLOW = (
    ("StartJobFunction", "generation/start_job.json"),
    ("AnalyzeFunction", "generation/analyze.json"),
    ("ComposeFunction", "generation/compose.json"),
    ("RenderFunction", "generation/render.json"),
)
DEMO_TRACK_ID = "7eac0000000040008000000000001e5d"
TRACK_WORKFLOW = (
    ("InspectTrackFunction", "library/inspect_track.json"),
    ("TranscodeTrackFunction", "library/transcode_track.json"),
    ("FinishTrackFunction", "library/finish_track.json"),
)
TRACK_FUNCTIONS = {"InspectTrackFunction", "TranscodeTrackFunction", "FinishTrackFunction", "TrackFailedFunction",
                   "TracksApiFunction"}
DEMO_TRANSCRIPTION_ID = "5ca1ab1e0000400080000000000c0de1"
LISTEN_WORKFLOW = (
    ("ClaimTranscriptionFunction", "listen/claim_transcription.json"),
    ("DecodeAudioFunction", "listen/decode_audio.json"),
    ("TranscribeFunction", "listen/transcribe.json"),
    ("RhythmFunction", "listen/rhythm.json"),
    ("HarmonyFunction", "listen/harmony.json"),
    ("TabFunction", "listen/tab.json"),
)
LISTEN_FUNCTIONS = {name for name, _ in LISTEN_WORKFLOW} | {"TranscriptionFailedFunction", "TranscriptionsApiFunction"}
DEMO_SONG_ID = "5ca1ab1e0000400080000000000b1e0d"
DEMO_BLEND_ID = "5ca1ab1e0000400080000000000b1e0d"
BLEND_WORKFLOW = (
    ("PrepareBlendFunction", "blend/prepare_blend.json"),
    ("ComposeBlendFunction", "blend/compose_blend.json"),
    ("RenderFunction", "blend/render_blend.json"),
    ("CompleteBlendFunction", "blend/complete_blend.json"),
)
DEMO_MAP_ID = "5ca1ab1e0000400080000000000d4a95"
DEMO_IDENTIFY_UPLOAD = "5ca1ab1e00004000800000000001d3f1"
MAP_WORKFLOW = (
    ("MapDecodeFunction", "maps/map_decode.json"),
    ("MapDrumsFunction", "maps/map_drums.json"),
    ("MapGridFunction", "maps/map_grid.json"),
    ("MapLevelsFunction", "maps/map_levels.json"),
)
MAP_FUNCTIONS = {name for name, _ in MAP_WORKFLOW} | {"MapFailedFunction", "MapsApiFunction"}
FINGERPRINT_FUNCTIONS = {"FingerprintFunction", "IdentifyFunction"}
FINGERPRINT_WORKFLOW = (("FingerprintFunction", "maps/fingerprint_track.json"),)  # what Identify needs first
SONG_FUNCTIONS = {"IngestSongFunction", "SongFailedFunction", "SongsApiFunction", "PreviewSongFunction"}
BLEND_FUNCTIONS = {"PrepareBlendFunction", "ComposeBlendFunction", "CompleteBlendFunction", "BlendFailedFunction",
                   "BlendsApiFunction"}


def sign_webhook(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    """A Stripe webhook event whose Stripe-Signature is a placeholder, signed now as Stripe signs it with the local
    stack's webhook secret (a signature in a file would be older than the 300 s Stripe allows); `created` 0 is now."""
    headers = dict(event.get("headers") or {})
    if "<" not in str(headers.get("Stripe-Signature", "")):
        return event
    import stripe

    body = json.loads(event["body"])
    body["created"] = body.get("created") or int(time.time())
    payload = json.dumps(body, separators=(",", ":"))
    headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(payload, stack.stripe_webhook_secret)
    return {**event, "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}, "body": payload}


def run_steps_before(stack: LocalStack, workflow: tuple[tuple[str, str], ...], before: str, failed: str,
                     done: set[str]) -> None:
    """The steps of a workflow that come before `before` (a step of it; its failure handler `failed` comes after the
    first step; anything else after them all), as run_steps runs them."""
    steps = [name for name, _ in workflow]
    upto = steps.index(before) if before in steps else (1 if before == failed else len(steps))
    run_steps(stack, workflow[:upto], done)


def run_steps(stack: LocalStack, steps: tuple[tuple[str, str], ...], done: set[str]) -> None:
    """Invoke workflow steps with their sample events, in order, except those that already ran on this stack (their
    event files are in `done`, which records the ones run here)."""
    for name, event_file in steps:
        if event_file not in done:
            stack.functions.invoke(name, json.loads((ROOT / "events" / event_file).read_text()))
            done.add(event_file)


def first_time(done: set[str], what: str) -> bool:
    """Whether `what` (a seed: the demo job, track, ...) is not yet on this stack; it is from now on."""
    if what in done:
        return False
    done.add(what)
    return True


def seed_song(stack: LocalStack, done: set[str]) -> None:
    """The demo song waiting for its MIDI, and events/blend/songs/demo-tune.mid uploaded to its form's key."""
    from soundcanvas.blend import songs

    if not first_time(done, "seed:song"):
        return
    store = songs.SongStore(stack.template.names["SongsTable"], "us-east-1", host=stack.endpoint)
    store.create_upload(DEMO_USER, DEMO_SONG_ID, title="Demo tune", artist=None,
                        upload_expires_at=int(time.time()) + 900)
    stack.client("s3").put_object(Bucket=stack.template.names["MediaBucket"], Key=songs.upload_key(DEMO_SONG_ID),
                                  Body=(ROOT / "events/blend/songs/demo-tune.mid").read_bytes(),
                                  ContentType="audio/midi")


def seed_blend(stack: LocalStack, before: str, done: set[str]) -> None:
    """The demo blend of the seed catalog's first two songs (by title), and the Blend steps before `before`."""
    from soundcanvas.blend import blends, songs

    if first_time(done, "seed:blend"):
        catalog = songs.SongStore(stack.template.names["SongsTable"], "us-east-1", host=stack.endpoint)
        chosen, _ = catalog.list_public(limit=2, cursor=None, viewer_id=DEMO_USER)
        options = json.loads((ROOT / "events/blend/compose_blend.json").read_text())["blend"]["options"]
        store = blends.BlendStore(stack.template.names["BlendsTable"], "us-east-1", host=stack.endpoint)
        store.create(DEMO_USER, DEMO_BLEND_ID, options=options,
                     songs=[{"songId": s["songId"], "title": s["title"], "artist": s.get("artist"), "weight": 0.5}
                            for s in chosen])
    run_steps_before(stack, BLEND_WORKFLOW, before, "BlendFailedFunction", done)


def seed_listen(stack: LocalStack, before: str, done: set[str]) -> None:
    """A PENDING transcription with the sample recording uploaded, and the Listen steps that come before `before`."""
    from soundcanvas.listen import transcriptions

    if first_time(done, "seed:transcription"):
        store = transcriptions.TranscriptionStore(stack.template.names["TranscriptionsTable"], "us-east-1",
                                                  host=stack.endpoint)
        options = json.loads((ROOT / "events/listen/decode_audio.json").read_text())["job"]["options"]
        store.create(DEMO_USER, DEMO_TRANSCRIPTION_ID, source={"kind": "upload", "contentType": "audio/mpeg"},
                     options=options, retention_days=30, upload_expires_at=int(time.time()) + 900)
        stack.client("s3").put_object(
            Bucket=stack.template.names["MediaBucket"], ContentType="audio/mpeg",
            Key=transcriptions.input_key(DEMO_USER, DEMO_TRANSCRIPTION_ID, "mp3"),
            Body=(ROOT / "events/listen/audio/guitar-take.mp3").read_bytes(),
        )
    run_steps_before(stack, LISTEN_WORKFLOW, before, "TranscriptionFailedFunction", done)


def seed_map(stack: LocalStack, before: str, done: set[str]) -> None:
    """The demo map of events/maps/groove.mp3 (PENDING, its recording at the work source key), and the Map steps
    that come before `before`."""
    from soundcanvas.maps import drum_maps

    if first_time(done, "seed:map"):
        store = drum_maps.MapStore(stack.template.names["MapsTable"], "us-east-1", host=stack.endpoint)
        source_key = drum_maps.work_key(DEMO_USER, DEMO_MAP_ID, "source.mp3")
        stack.client("s3").put_object(Bucket=stack.template.names["MediaBucket"], Key=source_key,
                                      ContentType="audio/mpeg", Body=(ROOT / "events/maps/groove.mp3").read_bytes())
        store.create(DEMO_USER, DEMO_MAP_ID, difficulty=None,
                     source={"kind": "track", "id": DEMO_TRACK_ID, "title": "Groove", "artist": "SoundCanvas",
                             "audioKey": source_key})
    run_steps_before(stack, MAP_WORKFLOW, before, "MapFailedFunction", done)


def seed_fingerprints(stack: LocalStack, function: str, done: set[str]) -> None:
    """The demo track's original (events/maps/groove.mp3) in the library's place; for Identify, the track
    fingerprinted into demo-user's index and the same recording waiting under an identify upload."""
    from soundcanvas.core import storage
    from soundcanvas.maps import identify_uploads

    bucket, body = stack.template.names["MediaBucket"], (ROOT / "events/maps/groove.mp3").read_bytes()
    if first_time(done, "seed:original"):
        stack.client("s3").put_object(Bucket=bucket, Key=storage.original_key(DEMO_USER, DEMO_TRACK_ID, "mp3"),
                                      Body=body, ContentType="audio/mpeg")
    if function == "IdentifyFunction":
        run_steps(stack, FINGERPRINT_WORKFLOW, done)
        if first_time(done, "seed:identify-upload"):
            stack.client("s3").put_object(Bucket=bucket, ContentType="audio/mpeg", Body=body,
                                          Key=identify_uploads.key(DEMO_USER, DEMO_IDENTIFY_UPLOAD, "mp3"))


def seed_track(stack: LocalStack, before: str, done: set[str]) -> None:
    """Upload the demo track and run the track workflow steps that come before `before`."""
    from soundcanvas.core import storage

    if first_time(done, "seed:track"):
        key = storage.original_key(DEMO_USER, DEMO_TRACK_ID, "flac")
        stack.client("s3").put_object(
            Bucket=stack.template.names["MediaBucket"], Key=key, ContentType="audio/flac",
            Body=(ROOT / "events/library/audio/demo-track.flac").read_bytes(), Metadata={"file-name": "demo-track.flac"},
        )
    run_steps_before(stack, TRACK_WORKFLOW, before, "TrackFailedFunction", done)


def seed_community(stack: LocalStack, done: set[str]) -> None:
    """A finished public map of a seed song (its version 1 a small valid document) and one pending edit of it:
    what the verifier queue (GET /edits) then lists."""
    from soundcanvas.maps import drum_maps, edits, karma
    from soundcanvas.maps.lanes import DIFFICULTIES, LANES

    if not first_time(done, "seed:community"):
        return
    names, host = stack.template.names, stack.endpoint
    maps = drum_maps.MapStore(names["MapsTable"], "us-east-1", host=host)
    song_id = DEMO_SONG_ID
    maps.create("mapmaker", DEMO_MAP_ID, difficulty=None, source={"kind": "song", "id": song_id, "title": "Groove",
                                                                  "artist": "SoundCanvas", "public": True})
    maps.claim("mapmaker", DEMO_MAP_ID, execution_id="seed")
    hits = [{"t": 0.5 * i, "t0": 0.5 * i, "lane": "kick" if i % 2 == 0 else "snare", "velocity": 0.8, "beat": float(i)}
            for i in range(8)]
    doc = {"schemaVersion": 1, "songId": song_id, "tempoBpm": 120.0, "offsetSeconds": 0.0, "beatsPerBar": 4,
           "lanes": list(LANES), "levels": {name: hits[: 2 * (i + 1)] for i, name in enumerate(DIFFICULTIES)}}
    key = drum_maps.document_key(song_id, DEMO_MAP_ID, 1)
    s3 = stack.client("s3")
    s3.put_object(Bucket=names["MediaBucket"], Key=key, Body=json.dumps(doc).encode(), ContentType="application/json")
    maps.advance("mapmaker", DEMO_MAP_ID, finished="levels", elapsed_ms=1, next_stage="done", outputs={"mapKey": key})
    store = karma.KarmaStore(names["CommunityTable"], "us-east-1", host=host)
    edit_store = edits.EditStore(names["CommunityTable"], "us-east-1", maps=maps, karma_store=store, s3=s3,
                                 bucket=names["MediaBucket"], host=host)
    edit_store.submit(store.standing(DEMO_USER), maps.get("mapmaker", DEMO_MAP_ID) or {}, base_version=1,
                      operations=[{"op": "replace", "path": "/levels/expert/7/lane", "value": "crash"}],
                      comment="the last hit is a crash")


def seed_notification(stack: LocalStack, done: set[str]) -> None:
    """An unread notification for the demo user: the demo map finished (what MapLevels writes)."""
    from soundcanvas.core.notifications import NotificationStore

    if not first_time(done, "seed:notification"):
        return
    store = NotificationStore(stack.template.names["NotificationsTable"], "us-east-1", host=stack.endpoint)
    store.add(DEMO_USER, kind="map-finished", subject="Your drum map of groove.mp3 is ready",
              text="The drum map of groove.mp3 is ready at four difficulties (120 BPM).",
              entity={"kind": "map", "id": DEMO_MAP_ID})


def seed(stack: LocalStack, before: str, done: set[str]) -> None:
    """Create the demo job and run the workflow steps that come before `before`."""
    # the layer is importable once the stack has started
    from soundcanvas.core import storage
    from soundcanvas.generation import jobs

    if first_time(done, "seed:job"):
        bucket = stack.template.names["MediaBucket"]
        store = jobs.JobStore(stack.template.names["GenerationsTable"], "us-east-1", host=stack.endpoint)
        key = storage.image_key(DEMO_USER, DEMO_JOB_ID, "image/jpeg")
        store.create(DEMO_USER, DEMO_JOB_ID, options=DEMO_OPTIONS, image_key=key, content_type="image/jpeg",
                     retention_days=30)
        stack.client("s3").put_object(Bucket=bucket, Key=key, ContentType="image/jpeg",
                                      Body=(ROOT / "events/generation/images/sunset.jpg").read_bytes())
    run_steps_before(stack, WORKFLOW, before, "MarkFailedFunction", done)


def websocket_event(stack: LocalStack, event: dict[str, Any], done: set[str]) -> dict[str, Any]:
    """A $connect event gets a fresh token in place of its placeholder; a message event's connection is opened
    first (with the $connect sample), and the demo job it may subscribe to exists."""
    query = event.get("queryStringParameters") or {}
    if "<" in str(query.get("token", "")):
        token = stack.token(DEMO_USER)
        return {**event, "queryStringParameters": {**query, "token": token},
                "multiValueQueryStringParameters": {"token": [token]}}
    seed(stack, "GenerationsApiFunction", done)
    connect = websocket_event(stack, json.loads((ROOT / "events/core/websocket_connect.json").read_text()), done)
    connect["requestContext"]["connectionId"] = event["requestContext"]["connectionId"]
    stack.functions.invoke("WebSocketFunction", connect)
    return event


def call(stack: LocalStack, function: str, event: dict[str, Any], done: set[str]) -> Any:
    """Seed what the event speaks of (what `done` says is on this stack already is not done again), then invoke the
    function with it: its result. A workflow step invoked here counts as run (in `done`)."""
    steps: tuple[tuple[str, str], ...] = ()  # the workflow the function may be a step of
    authorizer = stack.template.authorizer
    if authorizer and function == authorizer.function:
        if "<" in str(event.get("authorizationToken", "")):
            event = {**event, "authorizationToken": f"Bearer {stack.token(DEMO_USER)}"}
    elif function == "BillingApiFunction":
        event = sign_webhook(stack, event)
    elif function == "WebSocketFunction":
        event = websocket_event(stack, event, done)
    elif function in TRACK_FUNCTIONS:
        seed_track(stack, function, done)
        steps = TRACK_WORKFLOW
    elif function in LISTEN_FUNCTIONS:
        seed_listen(stack, function, done)
        steps = LISTEN_WORKFLOW
    elif function in ("IngestSongFunction", "SongFailedFunction"):
        seed_song(stack, done)
    elif function in BLEND_FUNCTIONS:
        seed_blend(stack, function, done)
        steps = BLEND_WORKFLOW
    elif function in MAP_FUNCTIONS:
        seed_map(stack, function, done)
        steps = MAP_WORKFLOW
    elif function == "CommunityApiFunction":
        seed_community(stack, done)
    elif function in FINGERPRINT_FUNCTIONS:
        seed_fingerprints(stack, function, done)
        steps = FINGERPRINT_WORKFLOW
    elif function in ("SongsApiFunction", "PreviewSongFunction"):
        pass  # the seed catalog is all they read
    elif function == "MeApiFunction":
        seed_notification(stack, done)
    else:
        seed(stack, function, done)
        steps = WORKFLOW
    result = stack.functions.invoke(function, event)
    done.update(event_file for name, event_file in steps if name == function)
    return result


def invoke_chain(calls: list[tuple[str, dict[str, Any]]]) -> Iterator[Any]:
    """Invoke the functions with their events in turn on one fresh local stack (see the module's docstring): each
    result as it comes."""
    needs_catalog = any(function in SONG_FUNCTIONS | BLEND_FUNCTIONS for function, _ in calls)  # it takes seconds
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"},
                    seed_catalog=needs_catalog) as stack:
        unknown = [function for function, _ in calls if function not in stack.template.functions]
        if unknown:
            raise SystemExit(f"no function {unknown[0]} in template.yaml; functions: "
                             f"{', '.join(stack.template.functions)}")
        stack.deliver_events = False  # the seeded upload must not start the workflow by itself
        done: set[str] = set()
        for function, event in calls:
            yield call(stack, function, event, done)


def invoke(function: str, event: dict[str, Any]) -> Any:
    [result] = invoke_chain([(function, event)])  # to the end: the stack stops before this returns
    return result
