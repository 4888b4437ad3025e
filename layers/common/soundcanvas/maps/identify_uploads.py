"""Where a recording to identify waits: identify/{userId}/{uploadId}.{ext}, written by a form from
POST /identify/uploads, read by POST /identify {uploadId}, and removed by it (the bucket's
`expire-identify` rule removes forgotten ones after a day). The user's id in the key keeps one
user from naming another's upload."""

from __future__ import annotations

import re

UPLOAD_ID_RE = re.compile(r"^[a-f0-9]{32}$")
EXTENSIONS = ("mp3", "flac", "wav", "aiff", "ogg", "m4a")


def key(user_id: str, upload_id: str, ext: str) -> str:
    return f"identify/{user_id}/{upload_id}.{ext}"


def candidate_keys(user_id: str, upload_id: str) -> list[str]:
    """Every key the upload may have (the form fixed its extension; the request names only the id)."""
    return [key(user_id, upload_id, ext) for ext in EXTENSIONS]
