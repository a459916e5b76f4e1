"""The decoding loop on a scripted runtime whose next-token preferences are known exactly."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np

from imagecaption.models.hf.decoding import DecoderState, Generation, decode

VOCAB = 6
EOS, PAD = 0, 5


class Scripted:
    """Logits depend only on (image, step): row ``image`` prefers ``PLAN[image][step]``."""

    PLAN = ((1, 2, 3, EOS), (4, 4, 4, 4, 4, 4, 4, 4))

    def prefill(
        self, pixel_values: np.ndarray, prompt: np.ndarray
    ) -> tuple[np.ndarray, DecoderState[np.ndarray]]:
        images = pixel_values[:, 0].astype(np.int64)
        return self._logits(images, 0), DecoderState([images], [np.zeros((len(images), 0))])

    def step(
        self, tokens: np.ndarray, state: DecoderState[np.ndarray]
    ) -> tuple[np.ndarray, DecoderState[np.ndarray]]:
        (images,), (history,) = state.static, state.dynamic
        history = np.concatenate([history, tokens], axis=1)
        return self._logits(images, history.shape[1]), DecoderState([images], [history])

    def select(self, state: DecoderState[np.ndarray], rows: np.ndarray) -> DecoderState:
        return DecoderState([a[rows] for a in state.static], [a[rows] for a in state.dynamic])

    def _logits(self, images: np.ndarray, step: int) -> np.ndarray:
        logits = np.zeros((len(images), VOCAB), dtype=np.float32)
        for row, image in enumerate(images.tolist()):
            plan = self.PLAN[image]
            logits[row, plan[min(step, len(plan) - 1)]] = 3.0
            logits[row, (plan[min(step, len(plan) - 1)] % 4) + 1] = 2.0  # a runner-up
        return logits


BASE = Generation(eos=frozenset({EOS}), pad=PAD, max_new_tokens=6)


def run(images: list[int], generation: Generation = BASE) -> list[list[tuple[int, ...]]]:
    pixels = np.array(images, dtype=np.float32).reshape(-1, 1)
    prompt = np.zeros((len(images), 1), dtype=np.int64)
    return [[h.tokens for h in found] for found in decode(Scripted(), pixels, prompt, generation)]


def test_greedy_stops_at_the_end_token_and_at_the_length_limit() -> None:
    assert run([0, 1]) == [[(1, 2, 3, EOS)], [(4, 4, 4, 4, 4, 4)]]


def test_a_batch_decodes_each_row_as_alone() -> None:
    assert run([1, 0, 1]) == run([1]) + run([0]) + run([1])


def test_min_length_forbids_an_early_end() -> None:
    (tokens,) = run([0], replace(BASE, min_new_tokens=5))[0]
    assert EOS not in tokens[:5]


def test_forced_start_and_forced_end() -> None:
    (tokens,) = run([1], replace(BASE, forced_bos=2, forced_eos=EOS, max_new_tokens=4))[0]
    assert tokens == (2, 4, 4, EOS)


def test_no_repeat_ngram_bans_repeats() -> None:
    (tokens,) = run([1], replace(BASE, no_repeat_ngram=2))[0]
    pairs = list(pairwise(tokens))
    assert len(pairs) == len(set(pairs))


def test_beam_search_returns_distinct_hypotheses_best_first() -> None:
    generation = replace(BASE, num_beams=3, num_return=3)
    pixels = np.array([[0.0], [1.0]], dtype=np.float32)
    prompt = np.zeros((2, 1), dtype=np.int64)
    results = decode(Scripted(), pixels, prompt, generation)
    for found in results:
        assert len(found) == 3
        assert len({h.tokens for h in found}) == 3
        assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)
    assert results[0][0].tokens == (1, 2, 3, EOS)  # the greedy path is also the best beam
