"""Re-tabbing a COMPLETE transcription: its notes placed again for another tuning or capo, the new tab files
written under new keys and swapped in with one conditional write. `POST /transcriptions/{id}/tab`
(functions/listen/transcriptions_api) and GraphQL's `retabTranscription` (functions/core/graphql_api) both call
`retab`.

The tab solver (soundcanvas.listen.tab) and the Guitar Pro writer (soundcanvas.listen.tab_files, which brings
PyGuitarPro) are imported inside `retab` only, so a function that imports this module for its request model pays
for neither until a re-tab runs.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from soundcanvas.listen import creation, transcriptions
from soundcanvas.listen.preferences import TUNING_DESCRIPTION, TuningField, check_tuning
from soundcanvas.listen.transcriptions import TranscriptionConflict, TranscriptionStore

TAB_FILES = ("tabKey", "tabFileKey", "resultKey")  # what a re-tab replaces (the MIDI stays: the notes are the same)


class RetabRequest(BaseModel):
    """Body of POST /transcriptions/{transcriptionId}/tab: what is omitted keeps the transcription's own."""

    model_config = ConfigDict(extra="forbid")
    tuning: TuningField | None = Field(default=None, description=TUNING_DESCRIPTION)
    capo: int | None = Field(default=None, ge=0, le=12, strict=True, description="Capo fret, 0 (none) to 12.")

    _tuning = field_validator("tuning", mode="before")(check_tuning)


def complete_outputs(record: dict[str, Any], what: str) -> dict[str, Any]:
    """The record's outputs; a conflict unless it is COMPLETE."""
    if record["status"] != transcriptions.COMPLETE or not (record.get("outputs") or {}).get("resultKey"):
        raise TranscriptionConflict(f"transcription {record['transcriptionId']} is {record['status']}; {what}")
    return dict(record["outputs"])


def title(record: dict[str, Any]) -> str:
    """The Guitar Pro file's title: the library track it came from, else the transcription."""
    source = record.get("source") or {}
    return f"Track {source['trackId']}" if source.get("trackId") else f"Transcription {record['transcriptionId']}"


def retab(*, store: TranscriptionStore, s3: Any, bucket: str, record: dict[str, Any],
          request: RetabRequest) -> dict[str, Any]:
    """Place the record's notes again (what the request omits keeps the record's own options); the new tab files
    replace the old ones, which are removed. A race lost to another change is a TranscriptionConflict and leaves
    the winner's files. Answers {options, tab, tabKey, tabFileKey}: the URLs are the caller's to sign."""
    user_id, transcription_id = record["userId"], record["transcriptionId"]
    outputs = complete_outputs(record, "it can be re-tabbed when it is COMPLETE")
    from soundcanvas.listen import tab, tab_files  # PyGuitarPro comes with tab_files: a re-tab's alone
    from soundcanvas.listen.notes import Note

    options = creation.options(request, record["options"])
    result: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=str(outputs["resultKey"]))["Body"].read())
    notes = [Note.from_json(item) for item in result.get("notes") or []]
    tuning = tab.parse_tuning(options["tuning"]["strings"])
    placed = tab.solve_tab(notes, tuning, int(options["capo"]))
    tempo_bpm = float(result.get("tempoBpm") or 0.0)  # 0: no pulse found; both writers then know what to do
    meter = str(result.get("timeSignature") or "4/4")
    result["tab"] = tab.tab_to_json(placed)
    version = secrets.token_hex(4)  # new keys: a URL handed out earlier never serves another tab than it named
    new_outputs = {
        **outputs,
        "tabKey": transcriptions.output_key(user_id, transcription_id, f"tab-{version}.txt"),
        "tabFileKey": transcriptions.output_key(user_id, transcription_id, f"tab-{version}.gp5"),
        "resultKey": transcriptions.output_key(user_id, transcription_id, f"result-{version}.json"),
    }
    s3.put_object(Bucket=bucket, Key=new_outputs["tabKey"], ContentType="text/plain; charset=utf-8",
                  Body=tab.ascii_tab(placed, tempo_bpm, time_signature=meter).encode())
    s3.put_object(Bucket=bucket, Key=new_outputs["tabFileKey"], ContentType="application/x-guitar-pro",
                  Body=tab_files.guitar_pro_bytes(placed, tempo_bpm, meter, title=title(record)))
    s3.put_object(Bucket=bucket, Key=new_outputs["resultKey"], ContentType="application/json",
                  Body=json.dumps(result, separators=(",", ":")).encode())
    replaced = store.replace_outputs(user_id, transcription_id, outputs=new_outputs, options=options,
                                     expected_result_key=str(outputs["resultKey"]))
    stale = [new_outputs[k] for k in TAB_FILES] if not replaced else \
        [outputs[k] for k in TAB_FILES if outputs.get(k) and outputs[k] != new_outputs[k]]
    if stale:  # the loser's files, or the files the new tab replaced
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale], "Quiet": True})
    if not replaced:
        raise TranscriptionConflict(f"transcription {transcription_id} changed while it was re-tabbed; try again")
    return {"options": options, "tab": result["tab"], "tabKey": new_outputs["tabKey"],
            "tabFileKey": new_outputs["tabFileKey"]}
