"""Errors whose class names are part of the state machine's contract.

A step Lambda that raises one of these fails with `errorType` equal to the class name; the
ASL's Retry/Catch blocks match on those names (see statemachine/generation.asl.json), and
tests check that every `ErrorEquals` names a class defined here or a States.* error.
Every message is written for the person who uploaded the picture or the track.
"""


class SoundCanvasError(Exception):
    """Base class: a failure with a message a person can act on."""


class ImageRejected(SoundCanvasError):
    """The upload is not an image we can use (wrong format, corrupt, too large, empty)."""


class CompositionFailed(SoundCanvasError):
    """The composer could not produce a piece from the parameters."""


class RenderFailed(SoundCanvasError):
    """FluidSynth or the preview encoder failed on a composition."""


class JobNotFound(SoundCanvasError):
    """The job record does not exist (deleted while running, or never created)."""


class TransientError(SoundCanvasError):
    """A temporary failure (throttling, a dependency briefly unavailable): safe to retry."""


class AudioRejected(SoundCanvasError):
    """The upload is not audio we can use (not audio, corrupt, too long, empty)."""


class TranscodeFailed(SoundCanvasError):
    """The encoder could not turn a track's original into MP3."""


class TrackNotFound(SoundCanvasError):
    """The track record does not exist (deleted while processing, or never registered)."""


class ToolFailed(SoundCanvasError):
    """A tool the stage runs (ffmpeg) is missing or could not start: an operator's problem, not the file's."""


class TranscriptionFailed(SoundCanvasError):
    """Listen could not transcribe audio it accepted (a tool or the model missing or failing)."""


class TranscriptionNotFound(SoundCanvasError):
    """The transcription record does not exist (deleted while running, or never created)."""


class SongRejected(SoundCanvasError):
    """An uploaded song is not usable (not MIDI, empty, no notes, too long); the message says why."""


class SongNotFound(SoundCanvasError):
    """The song record does not exist (deleted while a blend was running, or never created)."""


class BlendRejected(SoundCanvasError):
    """No blend of these songs passed the quality gates within the attempts allowed; the message says which gate."""


class BlendNotFound(SoundCanvasError):
    """The blend record does not exist (deleted while running, or never created)."""


class MapRejected(SoundCanvasError):
    """A drum map cannot be made from this audio (no drums found, too short); the message says what to do."""


class MapNotFound(SoundCanvasError):
    """The map record does not exist (deleted while running, or never created)."""
