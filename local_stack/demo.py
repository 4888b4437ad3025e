"""The main job, end to end over real HTTP: create a generation, upload a picture with the
presigned form, follow its progress, download the results. `make demo` runs it.

`make demo ARGS='--blend "drowsy maggie" "harvest home" "wachet auf"'` (or `make demo-blend`) runs a blend
instead: each phrase is searched in the seed catalog (typos are fine), the first hits are blended,
and the MIDI and MP3 are downloaded with the blend's attribution, novelty and quality gates."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import requests

from local_stack.stack import LocalStack
from soundcanvas.generation.genres import GM_PROGRAM_NAMES

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                 ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def generate(api_url: str, image: Path, options: dict[str, Any], *, token: str, timeout: float = 600.0,
             on_progress: Any = None, on_uploaded: Any = None, poll_seconds: float = 0.2) -> dict[str, Any]:
    """Create a generation, upload the picture, and poll until it is COMPLETE or FAILED.

    `on_uploaded()` is called the moment S3 has accepted the picture (the benchmark starts its clock there).
    """
    headers = {"Authorization": f"Bearer {token}"}
    content_type = CONTENT_TYPES.get(image.suffix.lower(), "image/jpeg")
    created = requests.post(f"{api_url}/generations", json={**options, "contentType": content_type},
                            headers=headers, timeout=30)
    created.raise_for_status()
    job = created.json()
    upload = job["upload"]
    with image.open("rb") as fh:
        sent = requests.post(upload["url"], data=upload["fields"], files={"file": (image.name, fh, content_type)},
                             timeout=60)
    if sent.status_code >= 300:
        raise RuntimeError(f"upload rejected ({sent.status_code}): {sent.text}")
    if on_uploaded:
        on_uploaded()
    deadline = time.monotonic() + timeout
    while True:
        state = requests.get(f"{api_url}/generations/{job['jobId']}", headers=headers, timeout=30).json()
        if on_progress:
            on_progress(state)
        if state["status"] in ("COMPLETE", "FAILED"):
            return dict(state)
        if time.monotonic() > deadline:
            raise TimeoutError(f"generation {job['jobId']} still {state['status']} after {timeout:.0f} s")
        time.sleep(poll_seconds)


WEB_APP_URL = "http://127.0.0.1:3000/"  # where `make local` serves the web app (API port 3000)


def run(image: Path, out_dir: Path, options: dict[str, Any], user: str = "demo-user") -> int:
    say(f"SoundCanvas demo: {image} -> music")
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"},
                    seed_catalog=False) as stack:
        say(f"local stack up: API {stack.api_url}  S3/DynamoDB {stack.endpoint}")
        last: list[str] = []
        started = time.perf_counter()

        def progress(state: dict[str, Any]) -> None:
            status = f"{state['status']:<8} {state['stage']:<8} {state['progress']:>3}%"
            if not last or last[-1] != status:
                last.append(status)
                say(f"  [{time.perf_counter() - started:5.1f}s] {status}")

        state = generate(stack.api_url, image, options, token=stack.token(user), on_progress=progress)
        if state["status"] != "COMPLETE":
            say(f"FAILED in {state['failedStage']}: {state['errorMessage']}")
            return 1
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for field, name in (("audioUrl", "output.wav"), ("previewUrl", "preview.mp3"), ("midiUrl", "composition.mid")):
            target = out_dir / name
            response = requests.get(state[field], timeout=60)
            response.raise_for_status()
            target.write_bytes(response.content)
            files[name] = target
        say("")
        params = state["params"]
        say("COMPLETE. Parameters drawn from the picture:")
        say(f"  genre {params['genre']}, {params['tempoBpm']} BPM, {params['key']} {params['scale']}, "
            f"mood {params['mood']}, energy {params['energy']:.2f}, density {params['density']:.2f}, "
            f"{params['durationSeconds']} s, {params['mode']} mode, seed {params['seed']}")
        say("  instruments: " + ", ".join(f"{part} = {GM_PROGRAM_NAMES.get(program, f'program {program}')}"
                                          for part, program in params["instruments"].items()) + ", drums (GM kit)")
        say("Stage timings (ms): " + ", ".join(f"{k} {v}" for k, v in state["timings"].items()))
        for name, path in files.items():
            say(f"  {name:<16} {path}  ({path.stat().st_size / 1024:.0f} KiB)")
    say("")
    say(f"The web app: `make local`, then open {WEB_APP_URL} and sign in with any user name (docs/web-app.md).")
    return 0


def run_blend(queries: list[str], out_dir: Path, options: dict[str, Any], user: str = "demo-user") -> int:
    """Find each query's song in the catalog, blend them, and save the MIDI and the MP3."""
    say(f"SoundCanvas demo: a blend of {len(queries)} songs from the seed catalog")
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        say(f"local stack up with the seed catalog: API {stack.api_url}")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.token(user)}"
        chosen = []
        for query in queries:
            found = session.get(f"{stack.api_url}/songs", params={"q": query, "limit": "1"}, timeout=30)
            found.raise_for_status()
            items = found.json()["items"]
            if not items:
                say(f"nothing in the catalog matches {query!r}")
                return 1
            song = items[0]
            say(f"  {query!r:<28} -> {song['title']} ({song['artist']}, {song['key']}, {song['timeSignature']}; "
                f"score {song['score']})")
            chosen.append(song)
        created = session.post(f"{stack.api_url}/blends", json={**options, "songs": [s["songId"] for s in chosen]},
                               timeout=30)
        if created.status_code != 202:
            say(f"blend refused ({created.status_code}): {created.text}")
            return 1
        blend_id, started = created.json()["blendId"], time.perf_counter()
        deadline, last = time.monotonic() + 300, ""
        while True:
            state = session.get(f"{stack.api_url}/blends/{blend_id}", timeout=30).json()
            status = f"{state['status']:<8} {state['stage']:<8} {state['progress']:>3}%"
            if status != last:
                last = status
                say(f"  [{time.perf_counter() - started:5.1f}s] {status}")
            if state["status"] in ("COMPLETE", "FAILED") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if state["status"] != "COMPLETE":
            say(f"FAILED in {state.get('failedStage')}: {state.get('errorMessage')}")
            return 1
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {}
        for field, name in (("midiUrl", "blend.mid"), ("audioUrl", "blend.mp3")):
            response = requests.get(state[field], timeout=60)
            response.raise_for_status()
            (out_dir / name).write_bytes(response.content)
            files[name] = out_dir / name
        titles = {s["songId"]: s["title"] for s in chosen}
        say("")
        say(f"COMPLETE: {state['key']}, {state['timeSignature']}, {state['tempoBpm']:.0f} BPM (quarter notes), "
            f"{state['durationSeconds']:.0f} s, seed {state['options']['seed']}, {state['attempts']} attempt(s)")
        say("  attribution (share of the melody's 4-note figures traced to each song, against its weight):")
        for song in state["songs"]:
            share = state["attribution"][song["songId"]]
            say(f"    {titles[song['songId']]:<32} {share:.2f}  (weight {song['weight']:.2f})")
        novelty = state["novelty"]
        say(f"  novelty: longest copy {novelty['longestCopiedBars']:.2f} bars, new phrases {novelty['newPhraseShare']:.0%}")
        say("  gates: " + ", ".join(f"{name} {'passed' if gate['passed'] else 'FAILED'}"
                                    for name, gate in state["gates"].items()))
        say("Stage timings (ms): " + ", ".join(f"{k} {v}" for k, v in state["timings"].items()))
        for name, path in files.items():
            say(f"  {name:<16} {path}  ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def _cut_mp3(source: Path, start_seconds: float, seconds: float, speed: float = 1.0) -> bytes:
    """`seconds` of `source` from `start_seconds`, as a 128 kbps MP3 (what a phone would send); with `speed`, that
    cut played `speed` times as fast (pitch and tempo, as a resampled copy), so it lasts seconds / speed."""
    import subprocess

    played = ["-af", f"aresample=44100,asetrate={round(44100 * speed)},aresample=44100"] if speed != 1.0 else []
    return subprocess.run(["ffmpeg", "-v", "error", "-ss", str(start_seconds), "-t", str(seconds), "-i", str(source),
                           *played, "-b:a", "128k", "-f", "mp3", "-"], capture_output=True, check=True).stdout


def _until(session: requests.Session, url: str, done: Any, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = dict(session.get(url, timeout=30).json())
        if done(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def run_maps(recording: Path, out_dir: Path, user: str = "demo-user") -> int:
    """A recording into the library (fingerprinted), its drum map, then the recording given to a catalog song
    and a 10-second MP3 snippet of it identified, as it is and played 3 % fast (the speed search)."""
    say(f"SoundCanvas demo: Maps with {recording.name}")
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        api = stack.api_url
        say(f"local stack up: API {api}")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.token(user)}"
        data = recording.read_bytes()
        forms = session.post(f"{api}/tracks/uploads", timeout=30, json={"files": [
            {"fileName": recording.name, "contentType": "audio/mpeg", "sizeBytes": len(data)}]})
        forms.raise_for_status()
        (item,) = forms.json()["files"]
        requests.post(item["upload"]["url"], data=item["upload"]["fields"],
                      files={"file": (recording.name, data, "audio/mpeg")}, timeout=60).raise_for_status()
        track = _until(session, f"{api}/tracks/{item['trackId']}", lambda s: s["status"] in ("READY", "FAILED"))
        say(f"  library: track {track['trackId']} {track['status']} ({track['durationSeconds']:.1f} s), "
            f"fingerprinted; duplicateOf: {track['duplicateOf']}")
        created = session.post(f"{api}/maps", json={"trackId": track["trackId"]}, timeout=30)
        created.raise_for_status()
        started = time.perf_counter()
        state = _until(session, f"{api}/maps/{created.json()['mapId']}", lambda s: s["status"] in ("COMPLETE", "FAILED"))
        if state["status"] != "COMPLETE":
            say(f"map FAILED in {state.get('failedStage')}: {state.get('errorMessage')}")
            return 1
        out_dir.mkdir(parents=True, exist_ok=True)
        document = requests.get(state["mapUrl"], timeout=60)
        document.raise_for_status()
        (out_dir / "drum-map.json").write_bytes(document.content)
        say(f"  drum map COMPLETE in {time.perf_counter() - started:.1f} s: {state['tempoBpm']:.1f} BPM; "
            f"levels {state['levels']}")
        say("    hits per lane: " + ", ".join(f"{lane} {count}" for lane, count in state["counts"].items() if count))
        say("    stage timings (ms): " + ", ".join(f"{k} {v}" for k, v in state["timings"].items()))
        song = session.get(f"{api}/songs", params={"q": "harvest home", "limit": "1"}, timeout=30).json()["items"][0]
        form = session.post(f"{api}/songs/{song['songId']}/audio", json={"contentType": "audio/mpeg"}, timeout=30)
        form.raise_for_status()
        upload = form.json()["upload"]
        requests.post(upload["url"], data=upload["fields"], files={"file": (recording.name, data, "audio/mpeg")},
                      timeout=60).raise_for_status()
        given = _until(session, f"{api}/songs/{song['songId']}", lambda s: s["audioStatus"] != "PENDING")
        say(f"  catalog: the recording given to '{song['title']}': audioStatus {given['audioStatus']}")
        for what, speed in (("a 10 s MP3 snippet from 12 s", 1.0), ("the same, played 3 % fast", 1.03)):
            snippet = _cut_mp3(recording, 12.0, 10.0 * speed, speed)
            started = time.perf_counter()
            found = session.post(f"{api}/identify", files={"file": ("snippet.mp3", snippet, "audio/mpeg")}, timeout=60)
            found.raise_for_status()
            matches = found.json()["matches"]
            say(f"  identify: {what} -> {len(matches)} match(es) in {(time.perf_counter() - started) * 1000:.0f} ms")
            for match in matches:
                say(f"    {match['kind']} {match.get('songId') or match.get('trackId')} '{match['title']}' "
                    f"score {match['score']:.3f} at {match['offsetSeconds']:.2f} s, speed {match['speed']:.3f}")
        say(f"  drum-map.json    {out_dir / 'drum-map.json'}  ({(out_dir / 'drum-map.json').stat().st_size / 1024:.0f} KiB)")
    return 0
