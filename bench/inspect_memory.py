"""InspectTrack's memory on hostile and heavy files: peak RSS of the inspect step, per file.

The files are made on the fly in a temporary directory, up to the 200 MB upload limit:

- a 199 MB MP3 whose ID3v2 tag is one 190 MB APIC frame (a 4-minute 320 kbps MP3 after it);
- a FLAC with 11 pictures of 16 MB each (the largest a FLAC picture block can hold);
- a FLAC with one picture just under the 16 MB metadata limit (what mutagen does load, at most);
- a FLAC with the largest cover that is decoded: a 3464 x 3464 RGBA PNG (12 MP, the pixel limit).

Each file is inspected in a fresh interpreter, as a cold InspectTrack would: what the handler does
once the upload is on local disk (it streams the download in 1 MB pieces): audio_meta.read_audio_info,
audio_meta.read_cover and covers.normalize. The child reports its peak resident set (VmHWM of
/proc/self/status, Linux), which includes the interpreter and the modules the handler imports
(boto3 with an S3 client, PynamoDB, Powertools), and the same figure taken before the step.
InspectTrack has 1,024 MB; the target is <= 256 MB peak for the whole process.

    python -m bench.inspect_memory          # prints the rows on its own
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from local_stack.stack import ROOT

TARGET_MB = 256
MB = 1024 * 1024
APIC_BYTES = 190 * MB
MP3_TOTAL_BYTES = 199 * MB
FLAC_PICTURES = 11
FLAC_PICTURE_BYTES = 16 * MB - 64  # a metadata block's length field has 24 bits
BIG_COVER_SIDE_PX = 3464  # 3464 x 3464 = 11,999,296 pixels: just under covers.MAX_COVER_PIXELS
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CHILD = """
import json, sys
from pathlib import Path
from soundcanvas.core.errors import AudioRejected
from soundcanvas.library import audio_meta, covers
import PIL.Image, PIL.PngImagePlugin, PIL.JpegImagePlugin
import boto3, pynamodb.models, aws_lambda_powertools, aws_lambda_powertools.utilities.parser  # the handler's imports
boto3.client("s3", region_name="us-east-1")
def peak_mb():  # this process's high-water mark (ru_maxrss would carry the parent's over fork and exec)
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
before = peak_mb()
path = Path(sys.argv[1])
try:
    info = audio_meta.read_audio_info(path, path.name)
    picture = audio_meta.read_cover(path)
    cover = covers.normalize(picture[0]) if picture else None
    outcome = f"READY, {info.duration_seconds:.0f} s, cover " + (f"{cover.width}x{cover.height} {cover.content_type}"
                                                                if cover else "none")
except AudioRejected as exc:
    outcome = f"refused: {exc}"
sys.stdout.write(json.dumps({"before_mb": before, "peak_mb": peak_mb(), "outcome": outcome}))
"""


def _mp3_audio(path: Path, seconds: int) -> bytes:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}:sample_rate=44100", "-ac", "2", "-c:a", "libmp3lame",
                    "-b:a", "320k", "-id3v2_version", "0", "-write_xing", "1", str(path)], check=True)
    return path.read_bytes()


def _syncsafe(value: int) -> bytes:
    return bytes(((value >> shift) & 0x7F) for shift in (21, 14, 7, 0))


def _write_zeros(out: Any, count: int) -> None:
    chunk = bytes(MB)
    while count > 0:
        out.write(chunk[: min(count, MB)])
        count -= MB


def mp3_with_huge_apic(workdir: Path) -> Path:
    """An MP3 of MP3_TOTAL_BYTES whose ID3v2.3 tag is one APIC frame of APIC_BYTES."""
    audio = _mp3_audio(workdir / "audio.mp3", seconds=240)
    head = b"\x00image/png\x00\x03\x00" + PNG_SIGNATURE
    body_bytes = len(head) + APIC_BYTES - len(PNG_SIGNATURE)
    frame = b"APIC" + struct.pack(">I", body_bytes) + b"\x00\x00"
    tag_bytes = len(frame) + body_bytes
    padding = max(0, MP3_TOTAL_BYTES - 10 - tag_bytes - len(audio))
    path = workdir / "huge-apic.mp3"
    with path.open("wb") as out:
        out.write(b"ID3\x03\x00\x00" + _syncsafe(tag_bytes + padding) + frame + head)
        _write_zeros(out, APIC_BYTES - len(PNG_SIGNATURE) + padding)  # the frame, then the tag's padding
        out.write(audio)
    return path


def _flac_parts(workdir: Path) -> tuple[bytes, bytes]:
    """(STREAMINFO block body, audio frames) of a 10-second FLAC written by libsndfile."""
    import numpy as np
    import soundfile

    src = workdir / "tone.flac"
    t = np.arange(441_000) / 44100
    soundfile.write(src, np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.3, 44100)
    data = src.read_bytes()
    position, streaminfo = 4, b""
    while True:
        last, kind = data[position] & 0x80, data[position] & 0x7F
        length = int.from_bytes(data[position + 1: position + 4], "big")
        if kind == 0:
            streaminfo = data[position + 4: position + 4 + length]
        position += 4 + length
        if last:
            return streaminfo, data[position:]


def _picture_block(out: Any, data_bytes: int, *, last: bool, head: bytes = PNG_SIGNATURE,
                   width: int = 0, height: int = 0) -> None:
    mime = b"image/png"
    fixed = struct.pack(">II", 3, len(mime)) + mime + struct.pack(">IIIIII", 0, width, height, 32, 0, data_bytes)
    out.write(bytes([(0x80 if last else 0) | 6]) + (len(fixed) + data_bytes).to_bytes(3, "big") + fixed + head)
    _write_zeros(out, data_bytes - len(head))


def flac_with_pictures(workdir: Path, count: int = FLAC_PICTURES, picture_bytes: int = FLAC_PICTURE_BYTES,
                       name: str = "many-pictures.flac") -> Path:
    streaminfo, frames = _flac_parts(workdir)
    path = workdir / name
    with path.open("wb") as out:
        out.write(b"fLaC" + b"\x00" + len(streaminfo).to_bytes(3, "big") + streaminfo)
        for i in range(count):
            _picture_block(out, picture_bytes, last=i == count - 1)
        out.write(frames)
    return path


def flac_with_big_cover(workdir: Path, side_px: int = BIG_COVER_SIDE_PX) -> Path:
    """A FLAC whose cover is a side x side RGBA PNG (smooth, so that it stays under the byte limit)."""
    import io

    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, side_px, dtype=np.uint8)
    rgba = np.empty((side_px, side_px, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1] = ramp[None, :], ramp[:, None]
    rgba[..., 2], rgba[..., 3] = 128, ramp[::-1][None, :]
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    png = buffer.getvalue()
    del rgba, buffer
    streaminfo, frames = _flac_parts(workdir)
    path = workdir / "big-cover.flac"
    with path.open("wb") as out:
        out.write(b"fLaC" + b"\x00" + len(streaminfo).to_bytes(3, "big") + streaminfo)
        _picture_block(out, len(png), last=True, head=png, width=side_px, height=side_px)
        out.write(frames)
    return path


def _measure(path: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True, env=env)
    return {"file": path.name, "megabytes": path.stat().st_size / MB, **json.loads(done.stdout)}


def inspect_rows(workdir: Path) -> list[dict[str, Any]]:
    def at_limit(workdir: Path) -> Path:
        return flac_with_pictures(workdir, 1, 16 * MB - 1024, "one-16-mb-picture.flac")

    makers = (mp3_with_huge_apic, flac_with_pictures, at_limit, flac_with_big_cover)
    rows = []
    for make in makers:
        path = make(workdir)
        rows.append(_measure(path))
        path.unlink()
    return rows


def inspect_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| InspectTrack's inspect step (read tags, stream facts, cover; re-encode the cover), fresh process | "
             "peak RSS | target | met |", "|---|---|---|---|"]
    for row in rows:
        outcome = row["outcome"] if len(row["outcome"]) <= 90 else row["outcome"][:87] + "..."
        lines.append(f"| {row['file']} ({row['megabytes']:.1f} MB): {outcome} | {row['peak_mb']:.0f} MB "
                     f"({row['peak_mb'] - row['before_mb']:.0f} MB above the {row['before_mb']:.0f} MB after imports) | "
                     f"<= {TARGET_MB} MB | {'yes' if row['peak_mb'] <= TARGET_MB else 'NO'} |")
    return lines


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        rows = inspect_rows(Path(tmp))
    sys.stdout.write("\n".join(inspect_lines(rows)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
