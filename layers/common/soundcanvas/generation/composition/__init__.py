"""The composer: turns MusicParams and the picture's ImageFeatures into a General MIDI file.

    from soundcanvas.generation.composition import compose
    midi_bytes = compose(params, features)

Pure Python (no numpy, no mido at run time); the melody model for mode "model" is the packaged
`markov_model.json`, trained offline by tools/train_markov_model.py, and its harmony model is
`harmony_model.json`, trained offline by tools/train_harmony_model.py.
"""

from __future__ import annotations

from .composer import compose
from .markov import MarkovModel, load_model

__all__ = ["MarkovModel", "compose", "load_model"]
