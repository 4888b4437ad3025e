"""`make bench`: measure SoundCanvas against bare baselines in the same run, print and save a report.

Rows: per-stage time for 30/180/300 s pieces; the render stage against the plain `fluidsynth`
CLI render followed by the same preview encode; end to end (upload done -> COMPLETE) on the
local stack (workflows on moto's ASL engine); Analyze on a 12-megapixel JPEG; `GET /generations/{id}` p95 under 20 concurrent
clients; cold import of each API function; `GET /due` with 1,000 and 10,000 tracks
(bench/library.py); 20 users submitting 200 generations and 200 track uploads at once (bench/fleet.py);
transcoding a 5-minute FLAC against the bare ffmpeg command (bench/transcode.py); InspectTrack's peak
memory on hostile files up to the 200 MB upload limit (bench/inspect_memory.py).
Targets are printed beside each figure; nothing here is a test, and nothing fails the build.
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image

from bench.fleet import fleet_lines, run_fleet
from bench.inspect_memory import inspect_lines, inspect_rows
from bench.library import due_lines, due_rows
from bench.transcode import transcode_lines, transcode_rows
from local_stack.demo import generate
from local_stack.stack import ROOT, LocalStack

RESULTS = ROOT / "docs" / "benchmarks.md"
API_FUNCTIONS = {"generations_api": "generation", "tracks_api": "library", "transcriptions_api": "listen",
                 "graphql_api": "core", "health": "core"}  # name -> product folder
# The libraries every API function but /health imports, alone: the floor under an API function's cold import
# on this machine (the bare baseline of that row).
LIBRARY_FLOOR = ("import botocore.session, pynamodb.models, pydantic; "
                 "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
                 "from aws_lambda_powertools.event_handler.openapi import params; "
                 "from aws_lambda_powertools import Logger, Metrics")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of n runs (seconds) and the last result: the usual way to time short work."""
    best, result = float("inf"), None
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def photo_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A 12-megapixel photo-like JPEG: smooth gradients plus fine noise, like a camera's."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 120 + 100 * np.sin(x / 700) * np.cos(y / 900)
    g = 110 + 80 * np.cos(x / 500 + 1)
    b = 140 + 90 * np.sin((x + y) / 1100)
    rgb = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 1)).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def stage_rows(sample: bytes, soundfont: Path) -> list[dict[str, Any]]:
    from soundcanvas.generation.analysis import analyze_image
    from soundcanvas.generation.composition import compose
    from soundcanvas.generation.mapping import map_to_params
    from soundcanvas.generation.render import bare_render_then_encode, render

    analyze_s, features = best_of(5, lambda: analyze_image(sample))
    rows = []
    for seconds in (30, 180, 300):
        params = map_to_params(features, genre="house", mode="heuristic", duration_seconds=seconds, seed=7)
        compose_s, midi = best_of(5, lambda params=params: compose(params, features))
        with tempfile.TemporaryDirectory() as tmp:
            midi_path = Path(tmp, "in.mid")
            midi_path.write_bytes(midi)
            ours = partial(render, midi_path, Path(tmp, "o.wav"), Path(tmp, "o.mp3"), duration_seconds=seconds,
                           soundfont=soundfont)
            bare = partial(bare_render_then_encode, midi_path, Path(tmp, "b.wav"), Path(tmp, "b.mp3"),
                           soundfont=soundfont)
            # Alternate the two so that neither gets a warmer page cache.
            render_s, bare_s = float("inf"), float("inf")
            for _ in range(2):
                bare_s = min(bare_s, best_of(1, bare)[0])
                render_s = min(render_s, best_of(1, ours)[0])
        rows.append({"seconds": seconds, "analyze": analyze_s, "compose": compose_s, "render": render_s,
                     "bare": bare_s})
    return rows


def bare_seconds(midi: bytes, soundfont: Path, runs: int = 2) -> float:
    """Best time of the plain `fluidsynth` CLI render then the same `lame` encode, for one MIDI file."""
    from soundcanvas.generation.render import bare_render_then_encode

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "piece.mid")
        path.write_bytes(midi)
        bare = partial(bare_render_then_encode, path, Path(tmp, "b.wav"), Path(tmp, "b.mp3"), soundfont=soundfont)
        return best_of(runs, bare)[0]


def end_to_end(stack: LocalStack, image: Path, seconds: int) -> tuple[float, dict[str, Any]]:
    """Seconds from the upload's HTTP response to the job reading COMPLETE."""
    uploaded: list[float] = []
    state = generate(stack.api_url, image, {"durationSeconds": seconds, "genre": "house", "seed": 7},
                     token=stack.token("demo-user"), on_uploaded=lambda: uploaded.append(time.perf_counter()),
                     poll_seconds=0.1)  # the demo client's pace; faster polling would steal CPU from the render
    return time.perf_counter() - uploaded[0], state


def get_latency(stack: LocalStack, job_id: str, *, interval: float, clients: int = 20,
                per_client: int = 50) -> dict[str, float]:
    """GET /generations/{id} latency under concurrent clients that run in a separate process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", f"{stack.api_url}/generations/{job_id}", "--clients", str(clients),
         "--requests", str(per_client), "--interval", str(interval),
         "--header", f"Authorization: Bearer {stack.token('demo-user')}"],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(out.stdout)
    samples = sorted(result["samples"])
    if result["errors"]:
        raise RuntimeError(f"load run saw non-200 answers: {sorted(set(result['errors']))}")
    return {"p50": statistics.median(samples) * 1000, "p95": samples[int(len(samples) * 0.95) - 1] * 1000,
            "n": len(samples), "rps": len(samples) / result["seconds"]}


def cold_imports(env: dict[str, str]) -> dict[str, tuple[float, float, list[str], int | None]]:
    """Import each API function's module in a fresh interpreter, five times: the median ms from bytecode (every module
    compiled beforehand, as `make build` ships a function), the median ms from sources (only the standard library
    compiled, as `sam build` alone ships one: docs/performance.md#bytecode), any heavy library loaded, and the
    instructions one import from bytecode executes, counted by valgrind's callgrind when it is installed (the
    whole process; neither the VM's speed nor its load changes it, docs/clients.md#library-and-cold-start).

    The bytecode lives in a PYTHONPYCACHEPREFIX of this run's own, filled by one import of each function first."""
    probe = (
        "import importlib.util, sys, time\n"
        "t = time.perf_counter()\n"
        "spec = importlib.util.spec_from_file_location('app', sys.argv[1])\n"
        "m = sys.modules['app'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "ms = (time.perf_counter() - t) * 1000\n"
        "heavy = [n for n in ('numpy', 'PIL', 'mido') if n in sys.modules]\n"
        "sys.stdout.write(f'{ms:.0f} {\",\".join(heavy)}')\n"
    )
    floor_probe = (f"import time; t = time.perf_counter(); {LIBRARY_FLOOR}; "
                   "print(f'{(time.perf_counter() - t) * 1000:.0f}')")
    commands = {name: ["-c", probe, str(ROOT / "functions" / product / name / "app.py")]
                for name, product in API_FUNCTIONS.items()}
    commands["libraries alone"] = ["-c", floor_probe]

    def environment(prefix: str, *, write: bool = False) -> dict[str, str]:
        """The probe's environment: bytecode read from (and with `write`, written to) `prefix` only."""
        run_env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "layers/common"), "PYTHONPYCACHEPREFIX": prefix}
        run_env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not write:
            run_env["PYTHONDONTWRITEBYTECODE"] = "1"
        return run_env

    def run(args: list[str], prefix: str, *, write: bool = False) -> list[str]:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True,
                              env=environment(prefix, write=write)).stdout.split(" ")

    with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as compiled, \
            tempfile.TemporaryDirectory(prefix="bench-stdlib-bytecode-") as stdlib_only:
        for args in commands.values():
            run(args, compiled, write=True)
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        stdlib = stdlib.relative_to(stdlib.anchor)
        shutil.copytree(Path(compiled) / stdlib, Path(stdlib_only) / stdlib)
        from_bytecode: dict[str, list[float]] = {name: [] for name in commands}
        from_sources: dict[str, list[float]] = {name: [] for name in commands}
        heavy: dict[str, list[str]] = {}
        for _ in range(5):  # rounds over every function, so a busy moment of the machine touches them all alike
            for name, args in commands.items():
                out = run(args, compiled)
                from_bytecode[name].append(float(out[0]))
                heavy[name] = [h for h in out[1:] if h]
                from_sources[name].append(float(run(args, stdlib_only)[0]))
        instructions = {name: instructions_of(args, environment(compiled)) for name, args in commands.items()}
    return {name: (statistics.median(from_bytecode[name]), statistics.median(from_sources[name]), heavy[name],
                   instructions[name]) for name in commands}


def instructions_of(args: list[str], env: dict[str, str]) -> int | None:
    """Instructions the interpreter executes running `args`, start to exit (callgrind's `Collected`, about 40 s for
    an API function); None without valgrind or when it fails (the row then gives the time alone)."""
    if shutil.which("valgrind") is None:
        return None
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args],
                         capture_output=True, text=True, check=False, env=env)
    collected = [line.split()[-1] for line in out.stderr.splitlines() if "Collected :" in line]
    if out.returncode != 0 or not collected:
        say(f"callgrind failed ({out.returncode}): {out.stderr.strip()[-300:]}")
        return None
    return int(collected[-1].replace(",", ""))


def _instructions(count: int | None) -> str:
    return f", {count / 1e9:.2f} G instructions" if count is not None else ""


def main() -> int:
    from soundcanvas.generation.render import find_soundfont

    soundfont = find_soundfont()
    image = ROOT / "events/generation/images/sunset.jpg"
    say(f"SoundCanvas benchmark, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SoundFont {soundfont.name}")
    photo = photo_jpeg()
    rows = stage_rows(photo, soundfont)
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        transcode = transcode_rows(Path(tmp))
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        inspect_memory = inspect_rows(Path(tmp))
    with LocalStack(api_port=0, aws_port=0, env_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        end_to_end(stack, image, 30)  # warm the handlers, as a warm Lambda would be
        e2e_s, state = end_to_end(stack, image, 180)
        e2e_midi = requests.get(state["midiUrl"], timeout=30).content
        polling = get_latency(stack, state["jobId"], interval=0.5)
        saturated = get_latency(stack, state["jobId"], interval=0.0)
        due = due_rows(stack)
        fleet = run_fleet(stack)
        env = dict(os.environ)  # what the stack gave its functions (tables, bucket, limits, endpoint)
    imports = cold_imports(env)
    bare_180 = bare_seconds(e2e_midi, soundfont)  # the same piece the end-to-end job composed

    lines = [
        f"# SoundCanvas benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, SoundFont `{soundfont.name}`. "
        "Each figure is the best of several runs unless marked; the bare baseline runs in the same process, "
        "on the same MIDI and SoundFont: `fluidsynth -F out.wav` then the same `lame` preview encode.",
        "",
        "| piece | analyze (12 MP JPEG) | compose | render + preview | bare fluidsynth then lame | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['seconds']} s | {r['analyze'] * 1000:.0f} ms | {r['compose'] * 1000:.0f} ms | "
                     f"{r['render']:.2f} s | {r['bare']:.2f} s | {r['render'] / r['bare']:.2f} |")
    timings = state.get("timings", {})
    lines += [
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        f"| end to end, 180 s piece (upload done -> COMPLETE, local stack), against the bare CLI on the job's own MIDI "
        f"| {e2e_s:.2f} s "
        f"(analyze {timings.get('analyze')} ms, compose {timings.get('compose')} ms, render {timings.get('render')} ms)"
        f" = {e2e_s / bare_180:.2f} x bare | <= 1.0 x bare render-then-encode ({bare_180:.2f} s) | "
        f"{'yes' if e2e_s <= bare_180 else 'NO'} |",
        f"| analyze, 12 MP JPEG | {rows[0]['analyze'] * 1000:.0f} ms | <= 150 ms | "
        f"{'yes' if rows[0]['analyze'] <= 0.150 else 'NO'} |",
        f"| compose, 180 s | {rows[1]['compose'] * 1000:.0f} ms | <= 100 ms | "
        f"{'yes' if rows[1]['compose'] <= 0.100 else 'NO'} |",
        f"| GET /generations/{{id}} (COMPLETE job, 4 presigned URLs), 20 concurrent clients each polling every "
        f"0.5 s, {polling['n']} requests | p50 {polling['p50']:.1f} ms, p95 {polling['p95']:.1f} ms, "
        f"{polling['rps']:.0f} requests/s | p95 <= 50 ms | {'yes' if polling['p95'] <= 50 else 'NO'} |",
        f"| the same, 20 clients sending back to back (saturation), {saturated['n']} requests | "
        f"p50 {saturated['p50']:.1f} ms, p95 {saturated['p95']:.1f} ms, {saturated['rps']:.0f} requests/s | "
        f"p95 <= 50 ms | {'yes' if saturated['p95'] <= 50 else 'NO'} |",
    ]
    floor_ms, floor_sources_ms, _, floor_instructions = imports.pop("libraries alone")
    lines.append(f"| cold import of the libraries alone (botocore, pynamodb, pydantic, Powertools' resolver and its "
                 f"validation), the floor under every API function here (median of 5) | {floor_ms:.0f} ms from bytecode"
                 f"{_instructions(floor_instructions)} ({floor_sources_ms:.0f} ms from sources) | information | - |")
    for name, (ms, sources_ms, heavy, count) in imports.items():
        loads = f", loads {', '.join(heavy)}" if heavy else ", no numpy/Pillow/mido"
        lines.append(f"| cold import, {name} (median of 5), from bytecode as `make build` ships it | {ms:.0f} ms "
                     f"({ms - floor_ms:+.0f} ms over the libraries{_instructions(count)}; {sources_ms:.0f} ms from "
                     f"sources, as `sam build` alone ships it){loads} | <= 400 ms, "
                     f"none of numpy/Pillow/mido | {'yes' if ms <= 400 and not heavy else 'NO'} |")
    lines += [*due_lines(due), *fleet_lines(fleet), "", *transcode_lines(transcode), "",
              *inspect_lines(inspect_memory)]
    report = "\n".join(lines) + "\n"
    say(report)
    RESULTS.write_text(report)
    (ROOT / "bench" / "results.json").write_text(json.dumps(
        {"stages": rows, "end_to_end_s": e2e_s, "latency_polling": polling, "latency_saturated": saturated,
         "imports_ms": {k: v[0] for k, v in imports.items()},
         "imports_from_sources_ms": {k: v[1] for k, v in imports.items()},
         "imports_instructions": {k: v[3] for k, v in imports.items()},
         "due": due, "fleet": fleet, "transcode": transcode,
         "inspect_memory": inspect_memory},
        indent=2) + "\n")
    say(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
