"""The note: what transcription produces and every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note: onset and offset in seconds, MIDI pitch (60 = C4), MIDI velocity 1-127."""

    start_seconds: float
    end_seconds: float
    pitch: int
    velocity: int

    def to_json(self) -> dict[str, float | int]:
        return {"start": round(self.start_seconds, 4), "end": round(self.end_seconds, 4),
                "pitch": self.pitch, "velocity": self.velocity}

    @classmethod
    def from_json(cls, item: dict[str, float | int]) -> Note:
        return cls(float(item["start"]), float(item["end"]), int(item["pitch"]), int(item["velocity"]))
