"""Greedy and beam-search decoding over any runtime that can prefill and step.

One loop serves both backends, so torch and onnxruntime differ only in who multiplies the
matrices: the same tokens come out of both, and a batch decodes exactly as its images would
alone (every image of a batch shares the prompt, so nothing is padded, and a finished image just
keeps feeding padding that no other row can see).

Scores are mean log-probabilities per generated token (the stop token included), so captions of
different lengths compare fairly; callers report ``exp`` of that, a number in (0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

State = TypeVar("State")
Array = TypeVar("Array")


@dataclass(frozen=True)
class DecoderState(Generic[Array]):
    """A batch's decoder state as the runtimes keep it (see ``graphs``): tensors fixed after
    prefill, and those that grow by one token per step."""

    static: list[Array]
    dynamic: list[Array]


class Runtime(Protocol[State]):
    """What decoding needs from a backend; arrays are numpy on this side of the interface."""

    def prefill(self, pixel_values: np.ndarray, prompt: np.ndarray) -> tuple[np.ndarray, State]:
        """Logits (rows, vocab) for the first new token, and the decoder state."""

    def step(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Feed one token per row (rows, 1); logits for the next."""

    def select(self, state: State, rows: np.ndarray) -> State:
        """Keep, reorder or repeat rows of the state (beam search)."""


@dataclass(frozen=True)
class Generation:
    """How to decode; fixed per model except for the per-request lengths and beam count."""

    eos: frozenset[int]
    pad: int
    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1
    num_return: int = 1
    forced_bos: int | None = None
    forced_eos: int | None = None
    no_repeat_ngram: int = 0
    suppressed: frozenset[int] = frozenset()
    """Tokens never written (transformers' single-token ``bad_words_ids``: Marian's padding)."""


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]
    score: float
    """Mean log-probability per generated token."""


def decode(
    runtime: Runtime[State], pixel_values: np.ndarray, prompt: np.ndarray, generation: Generation
) -> list[list[Hypothesis]]:
    """The best ``num_return`` hypotheses per image, best first."""
    if generation.num_beams > 1:
        return _BeamSearch(runtime, generation).run(pixel_values, prompt)
    return _greedy(runtime, pixel_values, prompt, generation)


def _log_probs(
    logits: np.ndarray, history: np.ndarray, position: int, generation: Generation
) -> np.ndarray:
    """Log-softmax after the processors that transformers' generate() would apply."""
    scores = logits.astype(np.float32, copy=True)
    if position < generation.min_new_tokens:
        scores[:, list(generation.eos)] = -np.inf
    if generation.suppressed:
        scores[:, list(generation.suppressed)] = -np.inf
    forced = generation.forced_bos if position == 0 else None
    if position == generation.max_new_tokens - 1 and generation.forced_eos is not None:
        forced = generation.forced_eos
    if forced is not None:
        kept = scores[:, forced].copy()
        scores[:] = -np.inf
        scores[:, forced] = kept
    size = generation.no_repeat_ngram
    if size and history.shape[1] >= size - 1:
        for row, tokens in enumerate(history.tolist()):
            scores[row, _banned(tokens, size)] = -np.inf
    shifted = scores - scores.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        normaliser = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    result: np.ndarray = shifted - normaliser
    return result


def _banned(tokens: Sequence[int], size: int) -> list[int]:
    """Tokens that would repeat an n-gram already in ``tokens``."""
    prefix = tuple(tokens[len(tokens) - size + 1 :]) if size > 1 else ()
    return [
        tokens[start + size - 1]
        for start in range(len(tokens) - size + 1)
        if tuple(tokens[start : start + size - 1]) == prefix
    ]


def _greedy(
    runtime: Runtime[State], pixel_values: np.ndarray, prompt: np.ndarray, generation: Generation
) -> list[list[Hypothesis]]:
    logits, state = runtime.prefill(pixel_values, prompt)
    rows = np.arange(len(logits))
    eos = np.array(sorted(generation.eos), dtype=np.int64)
    history = np.zeros((len(rows), 0), dtype=np.int64)
    finished = np.zeros(len(rows), dtype=bool)
    total = np.zeros(len(rows), dtype=np.float64)
    lengths = np.zeros(len(rows), dtype=np.int64)
    for position in range(generation.max_new_tokens):
        log_probs = _log_probs(logits, history, position, generation)
        chosen = np.where(finished, generation.pad, log_probs.argmax(axis=-1))
        total += np.where(finished, 0.0, log_probs[rows, chosen])
        lengths += ~finished
        history = np.concatenate([history, chosen[:, None]], axis=1)
        finished |= np.isin(chosen, eos)
        if finished.all() or position == generation.max_new_tokens - 1:
            break
        logits, state = runtime.step(chosen[:, None], state)
    return [
        [Hypothesis(tuple(history[row, : lengths[row]].tolist()), total[row] / lengths[row])]
        for row in rows
    ]


class _BeamSearch(Generic[State]):
    """Beam search with length-normalised scores, returning several finished hypotheses."""

    def __init__(self, runtime: Runtime[State], generation: Generation) -> None:
        self._runtime = runtime
        self._generation = generation
        self._beams = generation.num_beams

    def run(self, pixel_values: np.ndarray, prompt: np.ndarray) -> list[list[Hypothesis]]:
        generation, beams = self._generation, self._beams
        logits, state = self._runtime.prefill(pixel_values, prompt)
        images = len(logits)
        expand = np.repeat(np.arange(images), beams)
        state = self._runtime.select(state, expand)
        logits = logits[expand]
        scores = np.zeros((images, beams), dtype=np.float64)
        scores[:, 1:] = -np.inf  # all beams start identical: expand only the first
        history = np.zeros((images * beams, 0), dtype=np.int64)
        finished: list[list[Hypothesis]] = [[] for _ in range(images)]
        done = np.zeros(images, dtype=bool)
        for position in range(generation.max_new_tokens):
            log_probs = _log_probs(logits, history, position, generation)
            vocab = log_probs.shape[1]
            totals = (scores.reshape(-1, 1) + log_probs).reshape(images, beams * vocab)
            width = min(2 * beams, totals.shape[1])
            best = np.argpartition(-totals, width - 1, axis=1)[:, :width]
            best = np.take_along_axis(
                best, np.argsort(-np.take_along_axis(totals, best, axis=1), axis=1), axis=1
            )
            parents = np.zeros((images, beams), dtype=np.int64)
            tokens = np.full((images, beams), generation.pad, dtype=np.int64)
            next_scores = np.full((images, beams), -np.inf)
            for image in range(images):
                if done[image]:
                    continue
                kept = 0
                for rank, flat in enumerate(best[image].tolist()):
                    parent, token = divmod(int(flat), vocab)
                    total = float(totals[image, flat])
                    if token in generation.eos:
                        if rank < beams and np.isfinite(total):
                            row = history[image * beams + parent].tolist()
                            finished[image].append(
                                Hypothesis((*row, token), total / (position + 1))
                            )
                        continue
                    parents[image, kept], tokens[image, kept] = parent, token
                    next_scores[image, kept] = total
                    kept += 1
                    if kept == beams:
                        break
                done[image] = self._settled(finished[image], next_scores[image], position + 1)
            rows = (np.arange(images)[:, None] * beams + parents).reshape(-1)
            history = np.concatenate([history[rows], tokens.reshape(-1, 1)], axis=1)
            scores = next_scores
            if done.all() or position == generation.max_new_tokens - 1:
                break
            state = self._runtime.select(state, rows)
            logits, state = self._runtime.step(tokens.reshape(-1, 1), state)
        for image in np.flatnonzero(~done).tolist():
            for beam in range(beams):
                if np.isfinite(scores[image, beam]):
                    row = history[image * beams + beam]
                    finished[image].append(
                        Hypothesis(tuple(row.tolist()), scores[image, beam] / len(row))
                    )
        return [
            sorted(found, key=lambda h: h.score, reverse=True)[: generation.num_return]
            for found in finished
        ]

    def _settled(self, found: list[Hypothesis], running: np.ndarray, length: int) -> bool:
        """Enough finished hypotheses, and no running beam likely to beat the worst of them."""
        if len(found) < self._beams:
            return False
        found.sort(key=lambda h: h.score, reverse=True)
        del found[self._beams :]
        return bool(found[-1].score >= running.max() / length)
