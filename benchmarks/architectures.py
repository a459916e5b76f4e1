"""Full-size captioning models with random weights, one builder per architecture.

No captioning weights can be downloaded where the benchmarks run, and a model with random weights
costs exactly what the trained one costs: the same layers, the same sizes, the same vocabulary
size. Each builder writes a folder with ``save_pretrained`` (config, weights, processor or image
processor and tokenizer) from made-up vocabularies of the real sizes, and forces exactly
``NEW_TOKENS`` caption tokens through the generation config, which ``generate()``, our decoder
and every peer runtime honour.

The folders must load in transformers 4.57 too: the peer runtimes (Optimum, OpenVINO) need
transformers < 5 and read the same folders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers as tf
from tokenizers.pre_tokenizers import ByteLevel

NEW_TOKENS = 20


@dataclass(frozen=True)
class Architecture:
    """How to build one full-size model, and which transformers class runs it."""

    label: str
    build: Callable[[Path], Path]
    model_class: str
    """The architecture's own class in transformers, the one a plain script calls."""
    prompt: str | None = None
    """The text a plain script hands the processor with the image (Florence-2's task)."""


def _bert_vocabulary(folder: Path, extra: tuple[str, ...] = ()) -> Path:
    """bert-base-uncased's layout (30,522 entries, specials where BERT has them), made-up words."""
    words = ["[PAD]", *(f"[unused{i}]" for i in range(99)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words += [f"word{i}" for i in range(30522 - len(words))]
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join([*words, *extra]) + "\n")
    return vocab


def _bpe_files(folder: Path, first: tuple[str, ...], last: tuple[str, ...], size: int) -> None:
    """A byte-level BPE vocabulary of ``size`` entries: the specials, every byte, and made-up
    merges of two bytes (GPT-2's and BART's layout: 256 bytes, then merges, then specials)."""
    alphabet = sorted(ByteLevel.alphabet())
    room = size - len(first) - len(alphabet) - len(last)
    pairs = [(a, b) for a in alphabet for b in alphabet][:room]
    symbols = [*first, *alphabet, *(a + b for a, b in pairs), *last]
    assert len(set(symbols)) == size
    (folder / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(symbols)}))
    merges = "\n".join(f"{a} {b}" for a, b in pairs)
    (folder / "merges.txt").write_text(f"#version: 0.2\n{merges}\n")


def _exactly(model: tf.PreTrainedModel, tokens: int = NEW_TOKENS) -> None:
    model.generation_config.min_new_tokens = tokens
    model.generation_config.max_new_tokens = tokens


def git_base(folder: Path) -> Path:
    """GIT-base (microsoft/git-base-coco's architecture): ViT-B/16 at 224 px, 6-layer decoder."""
    tokenizer = tf.BertTokenizer(str(_bert_vocabulary(folder)))
    torch.manual_seed(0)
    model = tf.GitForCausalLM(tf.GitConfig())
    _exactly(model)
    image_processor = tf.CLIPImageProcessor(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
    )
    processor = tf.GitProcessor(image_processor=image_processor, tokenizer=tokenizer)  # type: ignore[no-untyped-call]
    processor.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def blip_base(folder: Path) -> Path:
    """BLIP-base (Salesforce/blip-image-captioning-base's architecture): ViT-B/16 at 384 px and a
    12-layer BERT decoder; the vocabulary is BERT's plus [DEC] (the start token) and [ENC]."""
    vocab = _bert_vocabulary(folder, extra=("[DEC]", "[ENC]"))
    tokenizer = tf.BertTokenizer(str(vocab), bos_token="[DEC]")
    torch.manual_seed(0)
    model = tf.BlipForConditionalGeneration(tf.BlipConfig())
    _exactly(model)
    image_processor = tf.BlipImageProcessor(size={"height": 384, "width": 384})
    processor = tf.BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)  # type: ignore[no-untyped-call]
    processor.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def vit_gpt2(folder: Path) -> Path:
    """ViT+GPT-2 (nlpconnect/vit-gpt2-image-captioning's architecture): ViT-B/16 at 224 px and
    the 12-layer GPT-2 with cross-attention, its 50,257-entry vocabulary."""
    _bpe_files(folder, (), ("<|endoftext|>",), 50257)
    tokenizer = tf.GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    decoder = tf.GPT2Config(add_cross_attention=True, is_decoder=True)  # type: ignore[call-arg]
    config = tf.VisionEncoderDecoderConfig.from_encoder_decoder_configs(tf.ViTConfig(), decoder)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = end
    config.bos_token_id = end
    torch.manual_seed(0)
    model = tf.VisionEncoderDecoderModel(config)
    for name in ("decoder_start_token_id", "pad_token_id", "eos_token_id", "bos_token_id"):
        setattr(model.generation_config, name, end)
    _exactly(model)
    tf.ViTImageProcessor(size={"height": 224, "width": 224}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def florence2_base(folder: Path) -> Path:
    """Florence-2-base (florence-community/Florence-2-base's architecture): DaViT at 768 px and
    a BART-base encoder-decoder (6 + 6 layers, 768 wide), 51,289-entry vocabulary.

    Like the trained model, the decoder writes <s> first (``forced_bos_token_id``), so it is
    given one token more than the others: ``NEW_TOKENS`` caption tokens after the marker.
    """
    _bpe_files(folder, ("<s>", "<pad>", "</s>", "<unk>"), ("<mask>", "<image>"), 51289)
    tokenizer = tf.BartTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        extra_special_tokens={"image_token": "<image>"},
    )
    vision = tf.Florence2VisionConfig(projection_dim=768, drop_path_rate=0.0)
    text = tf.BartConfig(
        d_model=768,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=12,
        decoder_attention_heads=12,
        encoder_ffn_dim=3072,
        decoder_ffn_dim=3072,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=tokenizer.bos_token_id,
        forced_eos_token_id=None,
    )  # type: ignore[call-arg]
    config = tf.Florence2Config(
        vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id
    )
    torch.manual_seed(0)
    model = tf.Florence2ForConditionalGeneration(config)
    model.generation_config.forced_bos_token_id = tokenizer.bos_token_id
    model.generation_config.forced_eos_token_id = None
    _exactly(model, NEW_TOKENS + 1)
    with torch.no_grad():
        features = model.get_image_features(torch.zeros(1, 3, 768, 768))
    image_processor = tf.CLIPImageProcessor(
        size={"height": 768, "width": 768},
        do_center_crop=False,
        image_seq_length=features.pooler_output.shape[1],
    )
    tf.Florence2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        folder
    )
    model.save_pretrained(folder)
    _image_token_as_transformers_4_reads_it(folder / "tokenizer_config.json")
    return folder


def _image_token_as_transformers_4_reads_it(config: Path) -> None:
    """transformers 5 saves named extra tokens as top-level keys beside an empty
    ``extra_special_tokens`` list; transformers 4 expects that entry to be a name -> token dict
    and fails on the list. Both read the dict."""
    settings = json.loads(config.read_text())
    settings["extra_special_tokens"] = {"image_token": settings.pop("image_token")}
    config.write_text(json.dumps(settings, indent=2))


ARCHITECTURES = {
    "git": Architecture("GIT-base", git_base, "GitForCausalLM"),
    "blip": Architecture("BLIP-base", blip_base, "BlipForConditionalGeneration"),
    "vit-gpt2": Architecture("ViT+GPT-2", vit_gpt2, "VisionEncoderDecoderModel"),
    "florence2": Architecture(
        "Florence-2-base", florence2_base, "Florence2ForConditionalGeneration", "<CAPTION>"
    ),
}


def build(name: str, folder: Path) -> Path:
    """The architecture's folder, built once: a folder already holding its weights is reused."""
    if not (folder / "model.safetensors").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        ARCHITECTURES[name].build(folder)
    return folder
