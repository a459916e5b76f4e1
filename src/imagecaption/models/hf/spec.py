"""What decoding needs to know about a model besides its weights, in a form that saves as JSON.

It is read from the loaded model once; the ONNX backend stores it beside its export, so a cached
export serves without loading the PyTorch weights again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagecaption.models.base import CaptionOptions, Detail
from imagecaption.models.hf.decoding import Generation

if TYPE_CHECKING:  # torch: an exported model is served without it
    from imagecaption.models.hf.architectures import Architecture, Model

DEFAULT_NEW_TOKENS: dict[Detail, int] = {"brief": 30, "detailed": 96, "more_detailed": 192}
"""Caption length limits when neither the request nor the model's generation config sets one."""


@dataclass(frozen=True)
class ModelSpec:
    detail_levels: tuple[Detail, ...]
    prompts: dict[Detail, list[int]]
    eos: tuple[int, ...]
    pad: int
    forced_bos: int | None = None
    forced_eos: int | None = None
    no_repeat_ngram: int = 0
    min_new_tokens: int = 0
    max_new_tokens: int | None = None
    marker_tokens: int = 0
    """Tokens a caption spends on markers, not words: a written start (Florence-2's ``<s>``) or
    a forced end. A requested ``max_length`` (in words) gets them on top."""
    suppressed: tuple[int, ...] = ()
    """Tokens never written (see ``Generation.suppressed``)."""

    def generation(self, options: CaptionOptions) -> Generation:
        """Greedy for one caption; beam search returning that many for ``num_captions``."""
        detail = options.detail or "brief"
        if options.max_length:
            longest = options.max_length + self.marker_tokens
        else:
            longest = self.max_new_tokens or DEFAULT_NEW_TOKENS[detail]
        return Generation(
            eos=frozenset(self.eos),
            pad=self.pad,
            max_new_tokens=longest,
            min_new_tokens=min(self.min_new_tokens, longest),
            num_beams=options.num_captions,
            num_return=options.num_captions,
            forced_bos=self.forced_bos,
            forced_eos=self.forced_eos,
            no_repeat_ngram=self.no_repeat_ngram,
            suppressed=frozenset(self.suppressed),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> ModelSpec:
        data: dict[str, Any] = json.loads(path.read_text())
        data["detail_levels"] = tuple(data["detail_levels"])
        data["eos"] = tuple(data["eos"])
        data["suppressed"] = tuple(data.get("suppressed", ()))
        return cls(**data)


def describe(model: Model, architecture: Architecture, processor: Any) -> ModelSpec:
    config = model.generation_config
    tokens = architecture.tokens(model)
    return ModelSpec(
        detail_levels=architecture.detail_levels,
        prompts={
            detail: architecture.prompt(model, processor, detail)
            for detail in architecture.detail_levels
        },
        eos=tuple(sorted(tokens.eos)),
        pad=tokens.pad,
        forced_bos=config.forced_bos_token_id,
        forced_eos=_first(config.forced_eos_token_id),
        no_repeat_ngram=config.no_repeat_ngram_size or 0,
        min_new_tokens=config.min_new_tokens or 0,
        max_new_tokens=config.max_new_tokens,
        marker_tokens=architecture.start_markers + (config.forced_eos_token_id is not None),
    )


def _first(token: int | list[int] | None) -> int | None:
    return token[0] if isinstance(token, list) else token
