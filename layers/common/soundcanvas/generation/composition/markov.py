"""The melody model: (scale step, duration) Markov transitions trained offline (tools/train_markov_model.py).

The JSON file ships inside this package and is read once per process; nothing is fetched at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from soundcanvas.core.errors import CompositionFailed

MODEL_FILE = "markov_model.json"
MODEL_FORMAT = "soundcanvas-markov/1"
SECOND_ORDER_WEIGHT = 0.7  # interpolation between second- and first-order transition probabilities

Token = tuple[int, float]  # (step in scale degrees, duration in quarter notes)
Row = tuple[tuple[int, float], ...]  # (token index, probability), ascending token index


def _normalise(pairs: list[list[int]]) -> dict[int, float]:
    total = sum(count for _, count in pairs)
    return {int(tok): count / total for tok, count in pairs} if total else {}


@dataclass
class MarkovModel:
    tokens: tuple[Token, ...]
    unigram: dict[int, float]
    order1: dict[int, dict[int, float]]
    order2: dict[tuple[int, int], dict[int, float]]
    header: dict[str, Any]
    _rows: dict[tuple[int | None, int | None], Row] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MarkovModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"unexpected model format {data.get('format')!r}")
        tokens = tuple((int(step), float(dur)) for step, dur in data["tokens"])
        order2 = {}
        for key, pairs in data["order2"].items():
            a, b = key.split(",")
            order2[(int(a), int(b))] = _normalise(pairs)
        return cls(
            tokens=tokens,
            unigram=_normalise(data["unigram"]),
            order1={int(k): _normalise(v) for k, v in data["order1"].items()},
            order2=order2,
            header=dict(data.get("header", {})),
        )

    def next_tokens(self, prev2: int | None, prev1: int | None) -> Row:
        """Candidate next tokens with probabilities, backing off from second to first order to unigram."""
        key = (prev2, prev1)
        row = self._rows.get(key)
        if row is None:
            first = self.order1.get(prev1, {}) if prev1 is not None else {}
            second = self.order2.get((prev2, prev1), {}) if prev2 is not None and prev1 is not None else {}
            if second and first:
                mixed = {t: (1 - SECOND_ORDER_WEIGHT) * p for t, p in first.items()}
                for t, p in second.items():
                    mixed[t] = mixed.get(t, 0.0) + SECOND_ORDER_WEIGHT * p
            else:
                mixed = dict(first or self.unigram)
            row = tuple(sorted(mixed.items()))
            self._rows[key] = row
        return row


@lru_cache(maxsize=1)
def load_model() -> MarkovModel:
    """The packaged melody model (parsed once per process)."""
    try:
        text = resources.files("soundcanvas.generation.composition").joinpath(MODEL_FILE).read_text(encoding="utf-8")
        return MarkovModel.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompositionFailed("The melody model is missing or damaged, so the piece could not be composed.") from exc
