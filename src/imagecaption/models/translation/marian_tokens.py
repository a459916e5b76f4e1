"""MarianMT's tokenizer as one ``tokenizers`` file, so the base install needs no SentencePiece.

transformers' Marian tokenizer cuts English with the SentencePiece model ``source.spm`` and looks
each piece up in the shared ``vocab.json`` (pieces it lacks become ``<unk>``), then appends
``</s>``; decoding joins the pieces and turns ``▁`` into spaces. The same, written for
``tokenizers``: a Unigram model over the pieces of ``source.spm``, under their ids in
``vocab.json``, behind ``source.spm``'s own normaliser; and for decoding, ``vocab.json`` whole
(the target side's pieces too) with SentencePiece's joining of pieces. One difference is known:
a run of characters that ``source.spm`` cannot spell is one ``<unk>`` here, as for
SentencePiece, but transformers looks such a run up in ``vocab.json`` first, where a single
character that only the target side spells (``ü`` in an English source) has an id. Read at
export time (with the models extra, which brings SentencePiece's model format); tests compare it
with the transformers tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram, WordLevel


def marian_tokenizers(folder: Path, max_tokens: int) -> tuple[Tokenizer, Tokenizer]:
    """(the source side's tokenizer, the target side's detokenizer) of a Marian folder."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]
    proto.ParseFromString((folder / "source.spm").read_bytes())
    vocab: dict[str, int] = json.loads((folder / "vocab.json").read_text())
    scores = {piece.piece: piece.score for piece in proto.pieces}
    lowest = min(scores.values())
    # Ids hold their place in the Unigram's list; a piece the source side never writes is put
    # there as a name that no input can spell (pre-tokenised text has no spaces).
    pieces = [(f"<target only {index}>", lowest) for index in range(max(vocab.values()) + 1)]
    for piece, index in vocab.items():
        if piece in scores:
            pieces[index] = (piece, scores[piece])
    specials = ["</s>", "<unk>", "<pad>"]
    source = Tokenizer(Unigram(pieces, unk_id=vocab["<unk>"], byte_fallback=False))
    steps: list[normalizers.Normalizer] = []
    if proto.normalizer_spec.precompiled_charsmap:
        steps.append(normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap))
    if proto.normalizer_spec.remove_extra_whitespaces:
        steps += [normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")]
    source.normalizer = normalizers.Sequence(steps)
    source.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    source.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    source.add_special_tokens(specials)
    source.enable_truncation(max_tokens)
    target = Tokenizer(WordLevel(vocab, unk_token="<unk>"))  # noqa: S106 (a token, no secret)
    target.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    target.add_special_tokens(specials)
    return source, target
