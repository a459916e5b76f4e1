"""Tiny, randomly initialised translation models (Marian, NLLB), saved as a hub download would be.

Like the tiny captioning models (``tests/models/hf/tiny``), each folder is written by
``save_pretrained`` with a hand-made vocabulary: no download anywhere. Marian's tokenizer is two
SentencePiece models trained here on a few sentences; NLLB's is a byte-pair vocabulary of single
characters with the real tokenizer's language codes.
"""

from __future__ import annotations

import json
from pathlib import Path

import sentencepiece
import torch
import transformers as tf

from tests.models.hf.tiny import CAPTIONS, SEED

GERMAN = (
    "eine Katze sitzt auf einem Tisch neben einem Teller mit Essen",
    "zwei Menschen stehen auf einem Feld neben einem roten Bus",
    "ein kleiner Hund rennt mit einem weißen Ball über das Gras",
    "ein Mann hält eine Kamera und schaut in den blauen Himmel",
)


TINY = {
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "max_position_embeddings": 128,
}
"""Both models' sizes: a few thousand weights."""


def _spm(folder: Path, name: str, sentences: tuple[str, ...]) -> Path:
    text = folder / f"{name}.txt"
    text.write_text("\n".join(sentences * 4) + "\n")
    sentencepiece.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(folder / name),
        vocab_size=80,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        unk_id=0,
        minloglevel=2,
    )
    text.unlink()
    (folder / f"{name}.vocab").unlink()
    return (folder / f"{name}.model").rename(folder / f"{name}.spm")


def marian_vocabulary(folder: Path, size: int = 0) -> dict[str, int]:
    """Marian's tokenizer files: ``source.spm`` (English), ``target.spm`` (German) and the shared
    ``vocab.json``, padded with made-up pieces to ``size`` entries where that is larger."""
    source = _spm(folder, "source", CAPTIONS)
    target = _spm(folder, "target", GERMAN)
    pieces = ["</s>", "<unk>", "<pad>"]
    for spm in (source, target):
        model = sentencepiece.SentencePieceProcessor(model_file=str(spm))
        pieces += [model.id_to_piece(i) for i in range(model.get_piece_size())]
    pieces = list(dict.fromkeys(pieces))
    pieces += [f"▁made{i}" for i in range(size - len(pieces))]
    vocab = {piece: index for index, piece in enumerate(pieces)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    return vocab


def marian_generation(vocab: dict[str, int], **settings: int) -> tf.GenerationConfig:
    """opus-mt's generation settings: start on padding, never write it, end with ``</s>``."""
    return tf.GenerationConfig(
        decoder_start_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        pad_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
        bad_words_ids=[[vocab["<pad>"]]],
        num_beams=1,
        **settings,
    )


def marian(folder: Path) -> Path:
    """opus-mt-en-de in miniature: English source pieces, German target pieces, one vocab."""
    vocab = marian_vocabulary(folder)
    tokenizer = tf.MarianTokenizer(
        str(folder / "source.spm"),
        str(folder / "target.spm"),
        str(folder / "vocab.json"),
        source_lang="en",
        target_lang="de",
    )
    config = tf.MarianConfig(
        vocab_size=len(vocab),
        **TINY,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
        init_std=0.2,
    )
    torch.manual_seed(SEED)
    model = tf.MarianMTModel(config).eval()
    model.generation_config = marian_generation(vocab, max_length=40)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def nllb(folder: Path, target: str = "fra_Latn") -> Path:
    """nllb-200-distilled in miniature: an M2M100 model that writes ``target`` (its code forced
    as the first token), with NLLB's tokenizer over a vocabulary of single characters."""
    letters = sorted({c for sentence in CAPTIONS + GERMAN for c in sentence.replace(" ", "")})
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {token: index for index, token in enumerate([*specials, "▁", *letters])}
    tokenizer = tf.NllbTokenizer(vocab=vocab, merges=[], src_lang="eng_Latn", tgt_lang=target)
    config = tf.M2M100Config(
        vocab_size=len(tokenizer),
        **TINY,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        scale_embedding=True,
        init_std=0.2,
    )
    torch.manual_seed(SEED)
    model = tf.M2M100ForConditionalGeneration(config).eval()
    # Random weights would write language codes (skipped when decoding) as often as letters:
    # zeroed, their logits stay below the letters', so the translations have text to compare.
    with torch.no_grad():
        written = tokenizer.convert_tokens_to_ids(target)
        codes = [i for i in range(len(vocab), len(tokenizer)) if i != written]
        model.get_input_embeddings().weight[codes] = 0
    model.generation_config = tf.GenerationConfig(
        decoder_start_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_length=40,
        num_beams=1,
    )
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder
