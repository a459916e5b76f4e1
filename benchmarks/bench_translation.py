"""What translating a caption adds to a full model's caption, per picture.

No translation weights can be downloaded where the benchmarks run, and random weights cost what
trained ones cost: GIT-base (``benchmarks/architectures``) writes exactly 20 caption tokens,
and a Marian model of opus-mt-en-de's size (6 + 6 layers of 512, 8 heads, feed-forward 2048,
58,101 pieces, random weights) translates an English caption of 9 to 11 words into exactly 20
tokens. The source side's SentencePiece vocabulary is trained here on a few captions (80
pieces), which cuts such a caption into 28 to 35 tokens where opus-mt's cuts it into about a
dozen: the encoder and cross-attention get more to read than in a real model, so the cost is
if anything overstated. Both run as served: exported to ONNX, int8, on ONNX Runtime.

In-process, batch 1, interleaved: per round and picture, the English caption alone and the
caption translated into German (model and translation together, as ``lang=de`` is answered),
in alternating order; plus the translation alone with 4 beams (opus-mt's own setting,
``translation_beams = 4``). Printed: p50 of each, what translation adds, and the ratio.

    python -m benchmarks.bench_translation [--rounds 8]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import transformers as tf
from PIL import Image
from tests.models.hf.tiny import CAPTIONS
from tests.models.translation.tiny import marian_generation, marian_vocabulary

from benchmarks.architectures import git_base
from benchmarks.bench_models import load_photos, machine
from imagecaption.models.base import CaptionOptions
from imagecaption.models.cpus import usable_cpus
from imagecaption.models.hf.captioner import TransformersCaptioner
from imagecaption.models.hf.onnx_backend import OnnxBackend
from imagecaption.models.translation.captioner import TranslatingCaptioner
from imagecaption.models.translation.export import cached_export
from imagecaption.models.translation.sources import TranslationSource
from imagecaption.models.translation.translator import Translator

OPUS_MT_PIECES = 58_101
NEW_TOKENS = 20


def opus_mt_sized(folder: Path) -> Path:
    """Helsinki-NLP/opus-mt-en-de's architecture and sizes, random weights, 20 tokens out."""
    vocab = marian_vocabulary(folder, OPUS_MT_PIECES)
    tokenizer = tf.MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )
    config = tf.MarianConfig(
        vocab_size=OPUS_MT_PIECES,
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
        max_position_embeddings=512,
        scale_embedding=True,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
    )
    torch.manual_seed(0)
    model = tf.MarianMTModel(config).eval()
    # Exactly NEW_TOKENS, the last the forced </s>: max_length counts the start token.
    model.generation_config = marian_generation(
        vocab, min_new_tokens=NEW_TOKENS - 1, max_length=NEW_TOKENS + 1
    )
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--work", type=Path, help="a folder kept between runs: GIT-base is built and exported once"
    )
    args = parser.parse_args()
    root = args.work or Path(tempfile.mkdtemp(prefix="bench-translation-"))
    threads = usable_cpus()
    git_folder = root / "git"
    if not (git_folder / "config.json").is_file():
        git_folder.mkdir(parents=True, exist_ok=True)
        git_base(git_folder)
    git = TransformersCaptioner(
        "git-base-sized",
        lambda: git_folder,
        OnnxBackend(root / "onnx", quantize=True, threads=threads),
    )
    marian = root / "opus-mt-en-de-sized"
    if not (marian / "config.json").is_file():
        marian.mkdir(parents=True, exist_ok=True)
        opus_mt_sized(marian)
    source = TranslationSource("de", "opus-mt-en-de-sized", marian, exported=False)
    exports = root / "onnx" / "translation"
    captioner = TranslatingCaptioner(
        git, [source], lambda s: Translator(cached_export(s.folder, exports, True), threads)
    )
    captioner.load()
    captioner.warmup()
    translator = Translator(cached_export(marian, exports, True), threads)
    inputs = [captioner.preprocess(Image.open(io.BytesIO(data))) for data in load_photos(4)]
    english, german, beams = [], [], []
    sentences = [c for c in CAPTIONS if 9 <= len(c.split()) <= 11]
    for round_ in range(args.rounds):
        for index, prepared in enumerate(inputs):
            runs = [
                (english, lambda p=prepared: captioner.caption_prepared([p], CaptionOptions())),
                (
                    german,
                    lambda p=prepared: captioner.caption_prepared([p], CaptionOptions(lang="de")),
                ),
            ]
            for found, run in runs if (round_ + index) % 2 == 0 else runs[::-1]:
                found.append(timed(run))
            sentence = sentences[index % len(sentences)]
            beams.append(timed(lambda s=sentence: translator.translate([s], None, beams=4)))
    print(machine())
    print(f"{threads} threads, {args.rounds} rounds of {len(inputs)} pictures, batch 1, int8")
    en, de, four = (statistics.median(found) for found in (english, german, beams))
    print(f"GIT-base-sized caption (English)           p50 {en:7.1f} ms")
    print(f"caption translated (lang=de, greedy)       p50 {de:7.1f} ms")
    print(f"  translation adds                             {de - en:7.1f} ms ({de / en:.2f}x)")
    print(f"translation alone with 4 beams             p50 {four:7.1f} ms")


if __name__ == "__main__":
    main()
