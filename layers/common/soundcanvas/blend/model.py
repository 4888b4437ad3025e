"""Blend's sequence models: a variable-order model per song, mixed by weight under a controller.

Melody. Each song's melody tokens go into a suffix automaton (the exact form of a factor oracle): every
state is a set of contexts that occur at the same places, so one state gives both the song's next-token
counts after the longest matching context (a variable-order Markov model of any order, backing off along
suffix links) and the length of the longest suffix of the output that the song contains verbatim.
At each step, with the rhythm prior R (how often the songs put an onset where the token would put the
next one) and F a free, stepwise continuation over the whole vocabulary (the part owed to no song):

    Q_s = (1 - free) * ((1 - low) * P_s(context <= max_order) + low * P_s(last token)) + free * F(last)
    P   = sum_s posterior_s * normalise((R * Q_s) ** (1 / temperature))

The temperature acts inside each song's distribution, so the choice between songs stays the controller's
at any temperature. The posterior over songs is updated by Bayes' rule after each token (the song being
followed stays likely, so phrases come from one song at a time) and moved `switch_rate` of the way to
the controller's weights w_s * exp(gain * (w_s - a_s)), a_s being the song's share of the 4-grams so far,
the same attribution the gate measures, kept up to date from the automata (a 4-gram is in song s when
the output's match in s is at least 4 long). P is then tilted: tokens completing a 4-gram of a song
behind (ahead of) its weight up (down), pitch classes towards their share in the songs' weighted
histogram, the cadence degrees in the last bar before the final tonic, and notes off the scale held back
once they pass `chromatic_budget` of the melody. A drawn token that would make a verbatim copy longer
than the copy limit is masked and redrawn.

Harmony. One chord (a scale degree of the blend's key) per slot by Viterbi over the songs' mixed chord
bigrams and the fit of each chord to the melody in its slot, ending V-I.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

ATTRIBUTION_N = 4  # attribution counts melody 4-grams


# --- suffix automaton -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Automaton:
    transitions: tuple[dict[int, int], ...]
    links: tuple[int, ...]  # suffix link of each state (-1 for the root)
    lengths: tuple[int, ...]  # longest context in each state
    counts: tuple[int, ...]  # occurrences (end positions) of each state's contexts


def build_automaton(sequence: Sequence[int]) -> Automaton:
    """The suffix automaton of a token sequence (Blumer et al.), with occurrence counts."""
    transitions: list[dict[int, int]] = [{}]
    links, lengths, counts = [-1], [0], [0]
    last = 0
    for token in sequence:
        current = len(lengths)
        transitions.append({})
        links.append(0)
        lengths.append(lengths[last] + 1)
        counts.append(1)
        state = last
        while state != -1 and token not in transitions[state]:
            transitions[state][token] = current
            state = links[state]
        if state != -1:
            target = transitions[state][token]
            if lengths[state] + 1 == lengths[target]:
                links[current] = target
            else:
                clone = len(lengths)
                transitions.append(dict(transitions[target]))
                links.append(links[target])
                lengths.append(lengths[state] + 1)
                counts.append(0)
                while state != -1 and transitions[state].get(token) == target:
                    transitions[state][token] = clone
                    state = links[state]
                links[target] = links[current] = clone
        last = current
    for state in sorted(range(1, len(lengths)), key=lambda s: -lengths[s]):
        counts[links[state]] += counts[state]
    return Automaton(tuple(transitions), tuple(links), tuple(lengths), tuple(counts))


def advance(automaton: Automaton, state: int, length: int, token: int) -> tuple[int, int]:
    """(state, match length) after appending `token`: the longest suffix of the output the sequence contains."""
    transitions, links, lengths = automaton.transitions, automaton.links, automaton.lengths
    while state and token not in transitions[state]:
        state = links[state]
        length = lengths[state]
    target = transitions[state].get(token)
    if target is None:
        return 0, 0
    return target, length + 1


def matching_lengths(automaton: Automaton, sequence: Sequence[int]) -> list[int]:
    """For each position of `sequence`, the longest run ending there that the automaton's sequence contains."""
    state, length, out = 0, 0, []
    for token in sequence:
        state, length = advance(automaton, state, length, token)
        out.append(length)
    return out


# --- one song's model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SongModel:
    automaton: Automaton
    opening: int  # the song's first token
    _rows: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, compare=False, repr=False)
    _dense: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, sequence: Sequence[int]) -> SongModel:
        return cls(build_automaton(sequence), sequence[0])

    def context(self, state: int, max_order: int) -> int:
        """The state of the longest context of at most `max_order` tokens that has a continuation."""
        links, lengths, transitions = self.automaton.links, self.automaton.lengths, self.automaton.transitions
        while state and lengths[links[state]] >= max_order:
            state = links[state]
        while state and not transitions[state]:
            state = links[state]
        return state

    def after(self, token: int) -> int:
        """The order-1 context state of `token` (the root when the song never plays it)."""
        state = self.automaton.transitions[0].get(token, 0)
        return self.context(state, 1)

    def dense(self, state: int, size: int) -> np.ndarray:
        """The continuation of `state` as probabilities over the whole vocabulary (cached)."""
        row = self._dense.get(state)
        if row is None:
            row = np.zeros(size)
            ids, probs = self.continuation(state)
            row[ids] = probs
            self._dense[state] = row
        return row

    def continuation(self, state: int) -> tuple[np.ndarray, np.ndarray]:
        """(token ids, probabilities) following the contexts of `state`, proportional to their counts."""
        row = self._rows.get(state)
        if row is None:
            items = sorted(self.automaton.transitions[state].items())
            ids = np.array([token for token, _ in items], dtype=np.int64)
            counts = np.array([self.automaton.counts[target] for _, target in items], dtype=np.float64)
            row = (ids, counts / counts.sum())
            self._rows[state] = row
        return row


# --- the mixture ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixtureSettings:
    weights: tuple[float, ...]  # normalised target shares
    temperature: float
    max_order: int  # longest context the songs' models condition on
    copy_limit_twelfths: int  # longest verbatim copy from one song, in twelfths of a beat
    low_order_share: float  # mass each song gives its order-1 continuation
    free_share: float  # mass of the free (no song's) continuation
    switch_rate: float  # share of the source posterior reset to the controller's weights at each step
    controller_gain: float = 30.0
    controller_prior: float = 3.0  # pseudo-count of 4-grams at the target shares
    credit_gain: float = 30.0  # the same tilt on the tokens that would credit a song a 4-gram
    histogram_gain: float = 20.0  # tilt of each pitch class towards its share in the songs' weighted mix
    histogram_prior: float = 8.0  # pseudo-count of notes at the mix's shares
    chromatic_budget: float = 0.15  # above this share of altered melody notes, altered tokens are held back
    rhythm_strength: float = 1.0


def mixture_settings(weights: Sequence[float], temperature: float, creativity: float, bar_twelfths: int) -> MixtureSettings:
    """Creativity lowers the order, shortens the copy limit (4 bars at 0 to 1 bar at 1) and loosens the sources' pull."""
    limit_bars = 4.0 - 3.0 * creativity
    return MixtureSettings(
        weights=tuple(weights),
        temperature=temperature,
        max_order=1 + round(4 * (1 - creativity)),
        copy_limit_twelfths=int(np.floor(limit_bars * bar_twelfths + 1e-9)),
        low_order_share=0.05 + 0.25 * creativity,
        free_share=0.01 + 0.12 * creativity,
        switch_rate=0.1 + 0.1 * creativity,
    )


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[tuple[int, int, int], ...]  # sorted (step, alteration, twelfths)
    index: dict[tuple[int, int, int], int]
    steps: np.ndarray
    twelfths: np.ndarray
    pitch_classes: np.ndarray  # above the tonic, in the blend's mode
    altered: np.ndarray  # True for tokens off the scale (an alteration kept from a song in the same mode)

    @classmethod
    def of(cls, melodies: Sequence[Sequence[tuple[int, int, int]]], scale: Sequence[int]) -> Vocabulary:
        tokens = tuple(sorted({token for melody in melodies for token in melody}))
        return cls(
            tokens,
            {t: i for i, t in enumerate(tokens)},
            np.array([t[0] for t in tokens], dtype=np.int64),
            np.array([t[2] for t in tokens], dtype=np.int64),
            np.array([(scale[t[0] % 7] + t[1]) % 12 for t in tokens], dtype=np.int64),
            np.array([t[1] != 0 for t in tokens], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class FreeContinuations:
    """F(b | a): from token a, the sources' token frequencies damped by the melodic distance in scale steps.
    Rows are made when first needed (a vocabulary of thousands of tokens would make a large matrix)."""

    steps: np.ndarray
    unigram: np.ndarray
    spread_steps: float = 1.5
    _rows: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, token: int) -> np.ndarray:
        row = self._rows.get(token)
        if row is None:
            row = self.unigram * np.exp(-np.abs(self.steps - self.steps[token]) / self.spread_steps)
            row = row / row.sum()
            self._rows[token] = row
        return row


def rhythm_prior(vocabulary: Vocabulary, onset_histogram: np.ndarray, strength: float, floor: float = 0.03) -> np.ndarray:
    """R[p, b]: how welcome token b is at bar position p, by where it puts the next onset (row maxima 1)."""
    bar = len(onset_histogram)
    histogram = onset_histogram / onset_histogram.max()
    landing = (np.arange(bar)[:, None] + vocabulary.twelfths[None, :]) % bar
    prior = (histogram[landing] + floor) ** strength
    return prior / prior.max(axis=1, keepdims=True)


@dataclass(frozen=True)
class MelodyDraw:
    tokens: tuple[int, ...]  # vocabulary ids
    credits: tuple[float, ...]  # 4-grams credited to each song while drawing
    new_ngrams: int
    masked: int  # draws refused for exceeding the copy limit


@dataclass
class _Tracker:
    """Per-song match state of the output so far, and the 4-gram credits."""

    models: Sequence[SongModel]
    states: list[int]
    lengths: list[int]
    credits: list[float]
    new: int = 0

    def trial(self, token: int) -> list[tuple[int, int]]:
        return [advance(m.automaton, s, n, token) for m, s, n in zip(self.models, self.states, self.lengths, strict=True)]

    def commit(self, moved: list[tuple[int, int]], position: int) -> None:
        self.states = [s for s, _ in moved]
        self.lengths = [n for _, n in moved]
        if position + 1 >= ATTRIBUTION_N:
            matched = [i for i, n in enumerate(self.lengths) if n >= ATTRIBUTION_N]
            for i in matched:
                self.credits[i] += 1 / len(matched)
            self.new += not matched


def _deficits(settings: MixtureSettings, credits: Sequence[float]) -> list[float]:
    """Each song's weight minus its share of the credited 4-grams so far (with `controller_prior` 4-grams
    at the weights, so the first few do not swing the controller)."""
    total = sum(credits) + settings.controller_prior
    return [w - (c + settings.controller_prior * w) / total for w, c in zip(settings.weights, credits, strict=True)]


def controller_weights(settings: MixtureSettings, credits: Sequence[float]) -> np.ndarray:
    """Each song's weight tilted towards its deficit in 4-gram share: w * exp(gain * deficit), normalised."""
    tilted = [
        w * math.exp(settings.controller_gain * d)
        for w, d in zip(settings.weights, _deficits(settings, credits), strict=True)
    ]
    total = sum(tilted)
    return np.array([t / total for t in tilted])


def credit_tilt(tracker: _Tracker, settings: MixtureSettings, size: int) -> np.ndarray | None:
    """Multipliers for the tokens that would complete a 4-gram of a song: above 1 for a song behind its
    weight, below 1 for one ahead of it (None when no song is 3 tokens into a match)."""
    tilt: np.ndarray | None = None
    deficits = _deficits(settings, tracker.credits)
    for s, (model, state, length) in enumerate(zip(tracker.models, tracker.states, tracker.lengths, strict=True)):
        if length >= ATTRIBUTION_N - 1 and model.automaton.transitions[state]:
            tilt = np.ones(size) if tilt is None else tilt
            ids, _ = model.continuation(state)
            tilt[ids] *= math.exp(settings.credit_gain * deficits[s])
    return tilt


def draw_melody(
    models: Sequence[SongModel],
    vocabulary: Vocabulary,
    settings: MixtureSettings,
    *,
    total_twelfths: int,
    onset_histogram: np.ndarray,
    cadence_from_twelfths: int,
    cadence_degrees: Sequence[int],
    pitch_class_target: np.ndarray,
    rng: np.random.Generator,
) -> MelodyDraw:
    """Draw melody tokens until `total_twelfths` are filled (the last token may overrun; the caller trims
    it). The first token is one of the songs' openings; see the module's docstring for the rest."""
    size = len(vocabulary)
    unigram = np.sum([w * m.dense(0, size) for m, w in zip(models, settings.weights, strict=True)], axis=0)
    free = FreeContinuations(vocabulary.steps, unigram)
    bar = len(onset_histogram)
    rhythm = rhythm_prior(vocabulary, onset_histogram, settings.rhythm_strength)
    cadence = np.where(np.isin(vocabulary.steps % 7, list(cadence_degrees)), 3.0, 1.0)
    exponent = 1.0 / settings.temperature
    tracker = _Tracker(models, [0] * len(models), [0] * len(models), [0.0] * len(models))
    ends = [0]  # onset of each token, then the end of the last one, in twelfths
    tokens: list[int] = []
    masked = 0
    low, free_share, switch = settings.low_order_share, settings.free_share, settings.switch_rate
    posterior = np.asarray(settings.weights, dtype=np.float64)
    rows = np.zeros((len(models), size))
    pitch_counts = np.zeros(12)
    altered_count = 0
    while ends[-1] < total_twelfths:
        posterior = (1 - switch) * posterior + switch * controller_weights(settings, tracker.credits)
        if not tokens:
            rows[:] = 0.0
            for s, model in enumerate(models):
                rows[s, model.opening] = 1.0
            mixed = posterior @ rows
        else:
            last = tokens[-1]
            for s, (model, state) in enumerate(zip(models, tracker.states, strict=True)):
                context = model.dense(model.context(state, settings.max_order), size)
                rows[s] = (1 - free_share) * ((1 - low) * context + low * model.dense(model.after(last), size))
            rows += free_share * free[last]
            rows = _tempered(rows, rhythm[ends[-1] % bar], exponent)
            mixed = posterior @ rows
        shares = (pitch_counts + settings.histogram_prior * pitch_class_target) / (len(tokens) + settings.histogram_prior)
        mixed *= np.exp(settings.histogram_gain * (pitch_class_target - shares))[vocabulary.pitch_classes]
        tilt = credit_tilt(tracker, settings, size)
        if tilt is not None:
            mixed *= tilt
        if ends[-1] >= cadence_from_twelfths:
            mixed *= cadence
        if altered_count > settings.chromatic_budget * (len(tokens) + 1):
            mixed[vocabulary.altered] *= 0.05  # keeps the piece in key (the in-key gate) whatever the songs
        while True:
            token = _sample(mixed, rng)
            moved = tracker.trial(token)
            end = ends[-1] + int(vocabulary.twelfths[token])
            if all(n == 0 or end - ends[-n] <= settings.copy_limit_twelfths for _, n in moved):
                break
            masked += 1
            mixed[token] = 0.0
            if not mixed.any():
                token, moved = _shortest_copy(tracker, len(vocabulary))
                end = ends[-1] + int(vocabulary.twelfths[token])
                break
        # Bayes: the songs that expected this token become likelier sources of the next one.
        posterior = posterior * (rows[:, token] + 1e-3)
        posterior /= posterior.sum()
        tracker.commit(moved, len(tokens))
        tokens.append(token)
        ends.append(end)
        pitch_counts[vocabulary.pitch_classes[token]] += 1
        altered_count += bool(vocabulary.altered[token])
    return MelodyDraw(tuple(tokens), tuple(float(c) for c in tracker.credits), tracker.new, masked)


def _tempered(rows: np.ndarray, prior: np.ndarray, exponent: float) -> np.ndarray:
    """(rows * prior) ** exponent, each row normalised: the temperature acts within each component of the
    mixture, so the controller's weights between songs keep their meaning at any temperature."""
    tempered = (rows * prior) ** exponent
    return tempered / tempered.sum(axis=-1, keepdims=True)


def _sample(weights: np.ndarray, rng: np.random.Generator) -> int:
    cumulative = np.cumsum(weights)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def _shortest_copy(tracker: _Tracker, size: int) -> tuple[int, list[tuple[int, int]]]:
    """The token making the shortest verbatim copy (every draw was masked: a rare dead end)."""
    best: tuple[int, int, list[tuple[int, int]]] | None = None
    for token in range(size):
        moved = tracker.trial(token)
        length = max(n for _, n in moved)
        if best is None or length < best[0]:
            best = (length, token, moved)
    assert best is not None
    return best[1], best[2]


# --- harmony --------------------------------------------------------------------------------------


def chord_transitions(sequences: Sequence[Sequence[int]], weights: Sequence[float], smoothing: float = 0.2) -> np.ndarray:
    """7x7 degree-to-degree transition probabilities: each song's bigrams (add-`smoothing`), mixed by weight."""
    mixed = np.zeros((7, 7))
    for sequence, weight in zip(sequences, weights, strict=True):
        counts = np.full((7, 7), smoothing)
        for a, b in itertools.pairwise(sequence):
            counts[a, b] += 1
        mixed += weight * counts / counts.sum(axis=1, keepdims=True)
    return mixed / mixed.sum(axis=1, keepdims=True)


def harmonise(
    melody_pcs: np.ndarray,
    chord_templates: np.ndarray,
    transitions: np.ndarray,
    *,
    fit_weight: float = 3.0,
    cadence: bool = True,
) -> tuple[int, ...]:
    """Viterbi: one degree per slot maximising log transitions + fit_weight * log(fit to the slot's melody).

    melody_pcs: (slots, 12) duration-weighted melody pitch classes; chord_templates: (7, 12) unit-norm rows.
    The first slot starts on the tonic; with `cadence`, the last two slots are V then I.
    """
    slots = len(melody_pcs)
    norms = np.linalg.norm(melody_pcs, axis=1, keepdims=True)
    fit = np.where(norms > 0, (melody_pcs / np.where(norms > 0, norms, 1)) @ chord_templates.T, 0.5)
    emission = fit_weight * np.log(0.05 + fit)
    if cadence and slots >= 2:
        emission[-2, :] = -1e9
        emission[-2, 4] = 0.0
        emission[-1, :] = -1e9
        emission[-1, 0] = 0.0
    transition = np.log(transitions)
    score = emission[0] + np.where(np.arange(7) == 0, 0.0, -2.0)
    back = np.zeros((slots, 7), dtype=np.int64)
    for slot in range(1, slots):
        candidates = score[:, None] + transition
        back[slot] = np.argmax(candidates, axis=0)
        score = candidates[back[slot], np.arange(7)] + emission[slot]
    path = [int(np.argmax(score))]
    for slot in range(slots - 1, 0, -1):
        path.append(int(back[slot, path[-1]]))
    return tuple(reversed(path))
