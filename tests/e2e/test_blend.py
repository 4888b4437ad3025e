"""Blend end to end on the local stack over real HTTP: the seed catalog loaded at start, typo-tolerant
search, blends of seed songs and of the caller's own uploaded MIDI through the Blend workflow (Prepare,
Compose, the shared Render function with FluidSynth and lame), and the files a user downloads."""

from __future__ import annotations

import io
import time
from typing import Any

import mido
import pytest
import requests

from local_stack.stack import LocalStack
from tests.e2e.conftest import Client, ShiftableClock

pytestmark = pytest.mark.e2e


class Blender(Client):
    """A caller of the Songs and Blends routes."""

    def search(self, q: str | None = None, **params: Any) -> requests.Response:
        if q is not None:
            params["q"] = q
        return self.session.get(self.url("/songs"), params=params, timeout=30)

    def song(self, song_id: str) -> requests.Response:
        return self.session.get(self.url(f"/songs/{song_id}"), timeout=30)

    def blend(self, **body: Any) -> requests.Response:
        return self.session.post(self.url("/blends"), json=body, timeout=30)

    def get_blend(self, blend_id: str, suffix: str = "", **params: Any) -> requests.Response:
        return self.session.get(self.url(f"/blends/{blend_id}{suffix}"), params=params, timeout=30,
                                allow_redirects=False)

    def finished(self, blend_id: str, timeout: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.get_blend(blend_id).json()
            if state.get("status") in ("COMPLETE", "FAILED"):
                return state
            time.sleep(0.2)
        raise AssertionError(f"blend {blend_id} not finished in {timeout} s: {state}")

    def upload_song(self, data: bytes, title: str = "My tune") -> dict[str, Any]:
        created = self.session.post(self.url("/songs/uploads"), json={"title": title}, timeout=30)
        assert created.status_code == 201, created.text
        form = created.json()["upload"]
        posted = requests.post(form["url"], data=form["fields"], files={"file": ("tune.mid", data, "audio/midi")},
                               timeout=60)
        assert posted.status_code == 204, posted.text
        return dict(created.json())

    def song_settled(self, song_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.song(song_id).json()
            if state.get("status") in ("READY", "FAILED"):
                return state
            time.sleep(0.1)
        raise AssertionError(f"song {song_id} not settled in {timeout} s: {state}")


def blender(stack: LocalStack, name: str) -> Blender:
    return Blender(stack, f"{name}-{time.monotonic_ns()}")


def first_hit(user: Blender, q: str) -> dict[str, Any]:
    response = user.search(q)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items, f"nothing found for {q!r}"
    return dict(items[0])


def midi_tune(pitches: list[int], *, ticks: int = 480, program: int = 0, tempo_bpm: float = 120.0) -> bytes:
    """A one-track tune of quarter notes."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
                            mido.Message("program_change", program=program, time=0)])
    for pitch in pitches:
        track += [mido.Message("note_on", note=pitch, velocity=90, time=0),
                  mido.Message("note_off", note=pitch, velocity=0, time=ticks)]
    midi = mido.MidiFile(ticks_per_beat=ticks, tracks=[track])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def own_tune() -> bytes:
    """An original eight-bar tune in E minor (ours, for the upload tests)."""
    phrase = [64, 67, 71, 72, 71, 67, 66, 64, 62, 66, 69, 71, 69, 66, 64, 62]
    return midi_tune(phrase * 2 + [64, 67, 71, 76, 74, 71, 67, 64])


def test_search_finds_seed_songs_through_typos_and_word_order(stack: LocalStack) -> None:
    user = blender(stack, "searcher")
    listing = user.search(limit=5)
    assert listing.status_code == 200 and len(listing.json()["items"]) == 5
    title = listing.json()["items"][0]["title"]
    exact = first_hit(user, title)
    assert exact["title"] == title and exact["visibility"] == "public"
    words = title.split()
    if len(words) >= 2:  # word order does not matter
        assert first_hit(user, " ".join(reversed(words)))["songId"] == exact["songId"]
    # a typo in a long word (two letters swapped)
    long_word = max(words, key=len)
    if len(long_word) >= 6:
        typo = long_word[:2] + long_word[3] + long_word[2] + long_word[4:]
        found = [item["songId"] for item in user.search(title.replace(long_word, typo), limit=10).json()["items"]]
        assert exact["songId"] in found
    paged = user.search(long_word, limit=2)
    assert paged.status_code == 200
    if paged.json()["nextCursor"]:
        following = user.search(long_word, limit=2, cursor=paged.json()["nextCursor"]).json()["items"]
        assert not {i["songId"] for i in following} & {i["songId"] for i in paged.json()["items"]}
    assert user.search("   ").status_code == 400


def test_a_song_has_its_midi_and_its_licence(stack: LocalStack) -> None:
    user = blender(stack, "reader")
    song = user.song(user.search(limit=1).json()["items"][0]["songId"]).json()
    assert song["licence"] and song["status"] == "READY"
    midi = mido.MidiFile(file=io.BytesIO(requests.get(song["midiUrl"], timeout=30).content))
    assert any(m.type == "note_on" for track in midi.tracks for m in track)
    assert user.song("no-such-song").status_code == 404


def test_a_song_gets_a_short_rendered_preview_the_first_time_it_is_asked_for(stack: LocalStack) -> None:
    user = blender(stack, "previewer")
    song_id = user.search("harvest home").json()["items"][0]["songId"]
    first = user.song(song_id).json()
    assert first["previewStatus"] in ("RENDERING", "READY")
    deadline = time.monotonic() + 120
    while (song := user.song(song_id).json())["previewStatus"] == "RENDERING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert song["previewStatus"] == "READY", song
    mp3 = requests.get(song["previewUrl"], timeout=30).content
    assert (mp3[:3] == b"ID3" or mp3[0] == 0xFF) and len(mp3) > 50_000  # about 20 s at 192 kbps or so
    assert not [key for key in _keys(stack, f"catalog/{song_id}/") if key.endswith(".wav")]


def _keys(stack: LocalStack, prefix: str) -> list[str]:
    s3 = stack.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.template.names["MediaBucket"], Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_three_seed_songs_blend_into_a_rendered_piece_with_its_gates_recorded(stack: LocalStack) -> None:
    user = blender(stack, "blender")
    songs = [item["songId"] for item in user.search(limit=40).json()["items"][::13][:3]]
    assert len(songs) == 3
    response = user.blend(songs=songs, weights=[2, 1, 1], lengthSeconds=30, seed=11)
    assert response.status_code == 202, response.text
    blend = user.finished(response.json()["blendId"])
    assert blend["status"] == "COMPLETE", blend
    assert set(blend["attribution"]) == set(songs)
    assert all(gate["passed"] for gate in blend["gates"].values()), blend["gates"]
    assert blend["novelty"]["longestCopiedBars"] <= 4
    assert blend["key"] and blend["tempoBpm"] > 0 and blend["timeSignature"]
    midi = mido.MidiFile(file=io.BytesIO(requests.get(blend["midiUrl"], timeout=30).content))
    assert abs(midi.length - blend["durationSeconds"]) < 8
    assert any(m.type == "note_on" and m.channel == 9 for track in midi.tracks for m in track)  # drums
    download = user.get_blend(blend["blendId"], "/download", format="mp3")
    assert download.status_code == 302
    mp3 = requests.get(download.headers["Location"], timeout=30).content
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert len(mp3) > 10_000
    listed = user.session.get(user.url("/blends"), timeout=30).json()["items"]
    assert [item["blendId"] for item in listed] == [blend["blendId"]]


def test_the_same_songs_options_and_seed_give_the_same_midi(stack: LocalStack) -> None:
    user = blender(stack, "repeat")
    songs = [item["songId"] for item in user.search(limit=30).json()["items"][5:7]]
    first, second = (user.finished(user.blend(songs=songs, lengthSeconds=20, seed=3).json()["blendId"])
                     for _ in range(2))
    assert first["status"] == second["status"] == "COMPLETE"
    one, two = (requests.get(b["midiUrl"], timeout=30).content for b in (first, second))
    assert one == two


def test_an_uploaded_song_is_private_and_blends_with_the_catalog(stack: LocalStack) -> None:
    owner, other = blender(stack, "owner"), blender(stack, "other")
    created = owner.upload_song(own_tune(), title="Kitchen Waltz of Ours")
    song = owner.song_settled(created["songId"])
    assert song["status"] == "READY" and song["visibility"] == "private" and song["key"]
    assert song["previewStatus"] in ("RENDERING", "READY")  # rendered right after validation
    assert other.song(created["songId"]).status_code == 404
    assert owner.search("kitchen walts").json()["items"][0]["songId"] == created["songId"]
    assert created["songId"] not in [i["songId"] for i in other.search("kitchen waltz").json()["items"]]
    seed = owner.search(limit=1).json()["items"][0]["songId"]
    assert other.blend(songs=[created["songId"], seed]).status_code == 404
    blend = owner.finished(owner.blend(songs=[created["songId"], seed], lengthSeconds=20, seed=5).json()["blendId"])
    assert blend["status"] == "COMPLETE", blend
    assert other.get_blend(blend["blendId"]).status_code == 404
    assert other.session.delete(other.url(f"/blends/{blend['blendId']}"), timeout=30).status_code == 404


@pytest.mark.parametrize(("data", "words"), [
    (b"these are not the notes you are looking for\n" * 10, "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0", "no notes"),
    (midi_tune([]), "no notes"),
])
def test_unusable_uploads_fail_with_a_message(stack: LocalStack, data: bytes, words: str) -> None:
    user = blender(stack, "uploader")
    song = user.song_settled(user.upload_song(data)["songId"])
    assert song["status"] == "FAILED"
    assert words in song["errorMessage"], song["errorMessage"]


def test_an_empty_upload_is_refused_by_the_form(stack: LocalStack) -> None:
    user = blender(stack, "empty")
    created = user.session.post(user.url("/songs/uploads"), json={"title": "Nothing"}, timeout=30).json()
    form = created["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("x.mid", b"", "audio/midi")}, timeout=30)
    assert posted.status_code == 400
    assert user.song(created["songId"]).json()["status"] == "PENDING"


def test_bad_blend_requests_name_the_field(stack: LocalStack) -> None:
    user = blender(stack, "careless")
    songs = [item["songId"] for item in user.search(limit=3).json()["items"]]
    cases = [
        ({"songs": songs[:1]}, "songs"),
        ({"songs": songs, "weights": [1, 2]}, "weights"),
        ({"songs": songs, "temperature": 3}, "temperature"),
        ({"songs": songs, "lengthSeconds": 5}, "lengthSeconds"),
        ({"songs": [songs[0], songs[0]]}, "songs"),
    ]
    for body, field in cases:
        response = user.blend(**body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.text
    missing = user.blend(songs=[songs[0], "0" * 32])
    assert missing.status_code == 404 and "0" * 32 in missing.json()["message"]


def test_blends_are_limited_per_user(stack: LocalStack, clock: ShiftableClock) -> None:
    user = blender(stack, "eager")  # its token is issued before the clock moves: the authorizer reads the real time
    clock.to_window_start(int(stack.template.parameters["BlendQuotaWindowSeconds"]))
    songs = [item["songId"] for item in user.search(limit=2).json()["items"]]
    answers = [user.blend(songs=songs, lengthSeconds=15).status_code for _ in range(11)]
    assert answers[:10] == [202] * 10 and answers[10] == 429
    stack.wait_idle(240)


def test_a_transcribed_library_track_becomes_a_song_to_blend(stack: LocalStack) -> None:
    from tests.e2e.conftest import ROOT
    from tests.e2e.test_track_library import Library

    library = Library(stack, f"player-{time.monotonic_ns()}")
    user = Blender(stack, library.user)
    track_id = library.add(ROOT / "events/listen/audio/guitar-take.mp3", "audio/mpeg")["trackId"]
    assert library.settled(track_id)["status"] == "READY"
    untranscribed = user.session.post(user.url("/songs"), json={"trackId": track_id}, timeout=30)
    assert untranscribed.status_code == 409 and "POST /transcriptions" in untranscribed.json()["message"]
    started = user.session.post(user.url("/transcriptions"), json={"trackId": track_id}, timeout=30)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 180
    while (state := user.session.get(user.url(f"/transcriptions/{started.json()['transcriptionId']}"),
                                     timeout=30).json())["status"] in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, "the transcription did not finish"
        time.sleep(0.2)
    assert state["status"] == "COMPLETE", state
    created = user.session.post(user.url("/songs"), json={"trackId": track_id}, timeout=30)
    assert created.status_code == 202, created.text
    song = user.song_settled(created.json()["songId"])
    assert song["status"] == "READY" and song["visibility"] == "private", song
    assert song["key"] == "C major" and song["source"].startswith("transcription")
    intruder = blender(stack, "intruder")
    assert intruder.session.post(intruder.url("/songs"), json={"trackId": track_id}, timeout=30).status_code == 404
    seed = user.search("drowsy maggie").json()["items"][0]["songId"]
    blend = user.finished(user.blend(songs=[song["songId"], seed], lengthSeconds=20, seed=1).json()["blendId"])
    assert blend["status"] == "COMPLETE", blend
