"""Where a recording to identify waits: identify/{userId}/{uploadId}.{ext}, written by a form from
POST /identify/uploads, read by POST /identify {uploadId}, and removed by it (the bucket's
`expire-identify` rule removes forgotten ones after a day). The user's id in the key keeps one
user from naming another's upload.

A form can be posted again until it expires (15 minutes), so "used once" is kept by a marker:
the first POST /identify of an upload writes identify/{userId}/{uploadId}.used only if it is not
there (a conditional write), and whoever finds it there is told the upload was used. The marker
expires with the prefix, after the form.
"""

from __future__ import annotations

USED = "used"  # the marker's extension; no audio type has it


def key(user_id: str, upload_id: str, ext: str) -> str:
    return f"identify/{user_id}/{upload_id}.{ext}"


def used_key(user_id: str, upload_id: str) -> str:
    """The marker the first identify of an upload writes."""
    return key(user_id, upload_id, USED)


def is_recording(object_key: str) -> bool:
    """An upload's recording, not its marker."""
    return not object_key.endswith(f".{USED}")
