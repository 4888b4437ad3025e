"""`python -m local_stack invoke FUNCTION -e EVENT`: every function of the template has a sample
event in events/ and runs with it, as `sam local invoke` would, with no Docker.

A few functions are invoked alone, as `make invoke` does: a fresh stack each, seeded for the one call. The others
run in CHAINS, `invoke F -e E --then F2 E2 ...`: one fresh stack per product, its functions invoked in turn and each
result checked. Each call is seeded as it would be alone, minus what the calls before it on that stack already did,
so a workflow's steps run once each, on what the steps before them left (alone, a step's seeding re-runs them all),
and the API functions after them see the job, track, ... finished as they would alone. A chain runs (one process)
when the first of its tests needs it, whatever the order the tests run in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from local_stack.template import LocalTemplate

ROOT = Path(__file__).resolve().parents[2]
EVENTS = {
    "GenerationsApiFunction": ("generation/api_get_generation.json",
                               lambda out: json.loads(out["body"])["status"] == "COMPLETE"),
    "HealthFunction": ("core/api_health.json", lambda out: out["statusCode"] == 200),
    "StartJobFunction": ("generation/start_job.json", lambda out: out["claimed"] is True),
    "AnalyzeFunction": ("generation/analyze.json",
                        lambda out: out["params"]["genre"] and out["features"]["width"] == 1600),
    "ComposeFunction": ("generation/compose.json",
                        lambda out: out["midiKey"].endswith("composition.mid") and out["bytes"] > 0),
    "RenderFunction": ("generation/render.json", lambda out: out["peakDbfs"] <= -1.0 and out["durationSeconds"] == 30),
    "MarkFailedFunction": ("generation/mark_failed.json", lambda out: out["marked"] and "PDF" in out["message"]),
    "SweeperFunction": ("core/sweeper.json", lambda out: out == {"failed": [], "expiredEdits": []}),
    "AccountApiFunction": ("core/api_export_me.json", lambda out: json.loads(out["body"])["counts"]["generations"] == 1),
    "BillingApiFunction": ("core/api_billing_webhook.json",  # its Stripe-Signature is signed at the call
                           lambda out: json.loads(out["body"]) == {"received": True, "duplicate": False,
                                                                   "outcome": "applied"}),
    "MeApiFunction": ("core/api_list_notifications.json",
                      lambda out: json.loads(out["body"])["unreadCount"] == 1
                      and json.loads(out["body"])["items"][0]["kind"] == "map-finished"),
    "GraphqlApiFunction": ("core/api_graphql.json",
                           lambda out: json.loads(out["body"])["data"]["generationStatus"]["status"] == "COMPLETE"
                           and json.loads(out["body"])["data"]["myGenerations"][0]["jobId"]
                           == "5ca1ab1e0000400080000000000c0de1"),
    "AuthorizerFunction": ("core/authorizer.json", lambda out: out["principalId"] == "demo-user"
                           and out["policyDocument"]["Statement"][0]["Effect"] == "Allow"),
    "WebSocketFunction": ("core/websocket_connect.json", lambda out: out["statusCode"] == 200),
    "TracksApiFunction": ("library/api_get_track.json", lambda out: json.loads(out["body"])["name"] == "Tide Lines"),
    "InspectTrackFunction": ("library/inspect_track.json", lambda out: out["claimed"] and out["needsTranscode"]),
    "TranscodeTrackFunction": ("library/transcode_track.json",
                               lambda out: out["mp3Key"].endswith(".mp3") and out["mp3Bytes"] > 0),
    "FinishTrackFunction": ("library/finish_track.json", lambda out: out["ready"] is True),
    "TrackFailedFunction": ("library/track_failed.json", lambda out: out["marked"] and "corrupt" in out["message"]),
    "TranscriptionsApiFunction": ("listen/api_get_transcription.json",
                                  lambda out: json.loads(out["body"])["status"] == "COMPLETE"),
    "ClaimTranscriptionFunction": ("listen/claim_transcription.json",
                                   lambda out: out["claimed"] and out["sourceKey"].endswith("source.mp3")),
    "DecodeAudioFunction": ("listen/decode_audio.json", lambda out: 20 < out["durationSeconds"] < 25),
    "TranscribeFunction": ("listen/transcribe.json", lambda out: out["noteCount"] > 30),
    "RhythmFunction": ("listen/rhythm.json", lambda out: out["frames"] > 1000),
    "HarmonyFunction": ("listen/harmony.json",
                        lambda out: out["key"]["tonic"] == "C" and out["timeSignature"] == "4/4"),
    "TabFunction": ("listen/tab.json", lambda out: out["complete"] is True),
    "TranscriptionFailedFunction": ("listen/transcription_failed.json",
                                    lambda out: out["marked"] and "PNG" in out["message"]),
    "SongsApiFunction": ("blend/api_search_songs.json",
                         lambda out: json.loads(out["body"])["items"][0]["title"] == "Drowsy Maggie"),
    "IngestSongFunction": ("blend/ingest_song.json", lambda out: out["ingested"] is True),
    "SongFailedFunction": ("blend/song_failed.json", lambda out: out["marked"] and "MThd" in out["message"]),
    "PreviewSongFunction": ("blend/preview_song.json",
                            lambda out: out["preview"]["previewKey"].endswith("preview.mp3")
                            and out["preview"]["durationSeconds"] == 20),
    "BlendsApiFunction": ("blend/api_get_blend.json", lambda out: json.loads(out["body"])["status"] == "COMPLETE"),
    "PrepareBlendFunction": ("blend/prepare_blend.json", lambda out: out["claimed"] is True),
    "ComposeBlendFunction": ("blend/compose_blend.json", lambda out: out["render"]["durationSeconds"] > 20),
    "CompleteBlendFunction": ("blend/complete_blend.json", lambda out: out["status"] == "COMPLETE"),
    "BlendFailedFunction": ("blend/blend_failed.json", lambda out: out["marked"] and "attribution" in out["message"]),
    "MapsApiFunction": ("maps/api_get_map.json", lambda out: json.loads(out["body"])["status"] == "COMPLETE"),
    "IdentifyFunction": ("maps/api_identify.json",
                         lambda out: json.loads(out["body"])["matches"][0]["trackId"] == "7eac0000000040008000000000001e5d"),
    "FingerprintFunction": ("maps/fingerprint_track.json",
                            lambda out: out["fingerprintKey"].endswith(".fp") and out["duplicateOf"] is None),
    "MapDecodeFunction": ("maps/map_decode.json", lambda out: out["claimed"] and 30 < out["durationSeconds"] < 36),
    "MapDrumsFunction": ("maps/map_drums.json", lambda out: out["hits"] > 50),
    "MapGridFunction": ("maps/map_grid.json", lambda out: abs(out["tempoBpm"] - 120.0) < 2.0),
    "MapLevelsFunction": ("maps/map_levels.json", lambda out: out["counts"]["kick"] > 10),
    "MapFailedFunction": ("maps/map_failed.json", lambda out: out["marked"] and "no drums" in out["message"]),
    "CommunityApiFunction": ("maps/api_list_edits.json",
                             lambda out: json.loads(out["body"])["items"][0]["diff"]["levels"]
                             == {"expert": {"added": 1, "removed": 1}}),
}


def _steps(*steps: str | tuple[str, str]) -> list[tuple[str, str]]:
    """(function, event file) each: a function alone is invoked with its sample event in EVENTS."""
    return [step if isinstance(step, tuple) else (step, EVENTS[step][0]) for step in steps]


# One fresh stack each, its functions invoked in this order, which matters: a function's seeding alone is what
# the calls before it must leave. Health and the generation API functions come after the workflow's steps (alone,
# their seeding runs the whole workflow); the list of due tracks before the grade (which makes the track due a day
# later); IngestSong after the functions that read the catalog. A product's failure handler sees its item after
# the first step, as alone (after the whole chain the item is finished and not marked), so the failure handlers
# share a stack of their own. MeApi runs before anything writes a notification (MapLevels, MapFailed), and
# CommunityApi (a map of a seed song by another user) on a stack without the demo map.
CHAINS = {
    "generation": _steps("MeApiFunction", "StartJobFunction", "AnalyzeFunction", "ComposeFunction", "RenderFunction",
                         "GenerationsApiFunction", "GraphqlApiFunction", "AccountApiFunction", "HealthFunction",
                         "WebSocketFunction", ("WebSocketFunction", "core/websocket_subscribe.json"),
                         "SweeperFunction", "AuthorizerFunction", "BillingApiFunction"),
    "track": _steps("InspectTrackFunction", "TranscodeTrackFunction", "FinishTrackFunction", "TracksApiFunction",
                    ("TracksApiFunction", "library/api_list_due.json"),
                    ("TracksApiFunction", "library/api_grade_track.json"),
                    ("TracksApiFunction", "library/api_create_track_uploads.json")),
    "listen": _steps("ClaimTranscriptionFunction", "DecodeAudioFunction", "TranscribeFunction", "RhythmFunction",
                     "HarmonyFunction", "TabFunction", "TranscriptionsApiFunction", "CommunityApiFunction"),
    "blend": _steps("SongsApiFunction", "PreviewSongFunction", "PrepareBlendFunction", "ComposeBlendFunction",
                    "CompleteBlendFunction", "BlendsApiFunction", "IngestSongFunction"),
    "maps": _steps("FingerprintFunction", "IdentifyFunction", "MapDecodeFunction", "MapDrumsFunction",
                   "MapGridFunction", "MapLevelsFunction", "MapsApiFunction"),
    "failures": _steps("MarkFailedFunction", "TrackFailedFunction", "TranscriptionFailedFunction",
                       "SongFailedFunction", "BlendFailedFunction", "MapFailedFunction"),
}
# Invoked alone, each in its own `invoke FUNCTION -e EVENT` process as `make invoke` runs it: an API function,
# a workflow step that needs the steps before it seeded, and the authorizer (its token placeholder replaced).
ALONE = ("TracksApiFunction", "ComposeFunction", "AuthorizerFunction")
pytestmark = pytest.mark.e2e


class ChainRun(NamedTuple):
    results: dict[tuple[str, str], Any]  # (function, event file) -> the handler's result
    stdout: str
    stderr: str
    returncode: int


class Chains:
    """Runs each chain once, when a test first asks for one of its results."""

    def __init__(self) -> None:
        self.runs: dict[str, ChainRun] = {}

    def result(self, function: str, event_file: str) -> Any:
        name = next(name for name, steps in CHAINS.items() if (function, event_file) in steps)
        if name not in self.runs:
            self.runs[name] = run_chain(CHAINS[name])
        run = self.runs[name]
        assert (function, event_file) in run.results, (
            f"chain {name} stopped before {function} {event_file} (exit {run.returncode}): "
            f"{run.stderr[-3000:]}\n{run.stdout[-2000:]}")
        return run.results[function, event_file]


@pytest.fixture(scope="module")
def chains() -> Chains:
    return Chains()


def run_chain(steps: list[tuple[str, str]]) -> ChainRun:
    (first, first_event), *rest = steps
    command = [sys.executable, "-m", "local_stack", "invoke", first, "-e", f"events/{first_event}"]
    for function, event_file in rest:
        command += ["--then", function, f"events/{event_file}"]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:  # recorded, so that the chain's other tests fail at once
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return ChainRun(chain_results(output), output, f"timed out after {exc.timeout} s", -1)
    return ChainRun(chain_results(done.stdout), done.stdout, done.stderr, done.returncode)


def chain_results(text: str) -> dict[tuple[str, str], Any]:
    """Each result a chain printed: the JSON document right after its `== FUNCTION events/EVENT` line (the
    function's own log lines come before that line)."""
    decoder, results = json.JSONDecoder(), {}
    for line in re.finditer(r"^== (\S+) events/(\S+)\n", text, re.MULTILINE):
        results[line[1], line[2]] = decoder.raw_decode(text, line.end())[0]
    return results


def test_every_function_has_a_sample_event(sam_template: LocalTemplate) -> None:
    assert set(EVENTS) == set(sam_template.functions)
    for event_file, _ in EVENTS.values():
        assert (ROOT / "events" / event_file).is_file()


def test_every_function_runs_in_a_chain() -> None:
    """Each function with its EVENTS sample once in the chains, so test_invoke checks them all."""
    steps = [step for chain in CHAINS.values() for step in chain]
    assert len(steps) == len(set(steps))
    assert {(function, event_file) for function, (event_file, _) in EVENTS.items()} <= set(steps)
    for _, event_file in steps:
        assert (ROOT / "events" / event_file).is_file()


@pytest.mark.parametrize("function", sorted(EVENTS))
def test_invoke(function: str, chains: Chains) -> None:
    event_file, check = EVENTS[function]
    out = chains.result(function, event_file)
    assert check(out), out


@pytest.mark.parametrize("function", ALONE)
def test_invoke_alone(function: str) -> None:
    event_file, check = EVENTS[function]
    done = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", function, "-e", f"events/{event_file}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert check(last_json_document(done.stdout)), done.stdout


def last_json_document(text: str) -> dict:
    """The handler's result: the last JSON document printed (the function's log lines come first)."""
    decoder, position, last = json.JSONDecoder(), 0, None
    while position < len(text):
        start = text.find("{", position)
        if start < 0:
            break
        last, position = decoder.raw_decode(text, start)
    assert isinstance(last, dict), text
    return last


def test_websocket_subscribe_event_answers_the_demo_jobs_state(chains: Chains) -> None:
    answer = json.loads(chains.result("WebSocketFunction", "core/websocket_subscribe.json")["body"])
    assert (answer["action"], answer["status"], answer["progress"]) == ("subscribed", "COMPLETE", 100), answer


def test_other_api_events_route_to_the_api_function() -> None:
    for name in ("api_create_generation", "api_list_generations", "api_regenerate_generation",
                 "api_delete_generation"):
        event = json.loads((ROOT / "events" / "generation" / f"{name}.json").read_text())
        assert event["requestContext"]["authorizer"]["principalId"] == "demo-user"
        assert event["resource"].startswith("/generations")


@pytest.mark.parametrize(("event_file", "status", "check"), [
    ("library/api_create_track_uploads.json", 201,
     lambda body: body["files"][0]["upload"]["fields"]["key"].endswith(".flac")),
    ("library/api_list_due.json", 200, lambda body: [i["answer"]["name"] for i in body["items"]] == ["Tide Lines"]),
    ("library/api_grade_track.json", 200, lambda body: (body["scheduler"], body["intervalDays"]) == ("sm2", 1)),
])
def test_track_api_events(event_file: str, status: int, check: Any, chains: Chains) -> None:
    out = chains.result("TracksApiFunction", event_file)
    assert out["statusCode"] == status and check(json.loads(out["body"])), out
