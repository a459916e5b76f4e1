"""Tiny, randomly initialised captioning models, saved as a hub download would be.

Each builder writes a folder with ``save_pretrained`` (config, safetensors weights, processor,
tokenizer), so loading goes through exactly the code that serves a downloaded model. Tokenizers
come from hand-written vocabularies: no download anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
import transformers as tf
from tokenizers.pre_tokenizers import ByteLevel

CAPTIONS = (
    "a cat sitting on a table next to a plate of food",
    "two people standing in a field near a red bus",
    "a small dog running on the grass with a white ball",
    "a man holding a camera looking at the blue sky",
    "a black and brown bird lying near the water",
)
WORDS = sorted({word for caption in CAPTIONS for word in caption.split()})
"""What the hand-written vocabularies can spell."""
SEED = 0
IMAGE_SIZE = 32


def _bert_tokenizer(folder: Path, extra: tuple[str, ...] = ()) -> tf.BertTokenizer:
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *extra, *WORDS]))
    return tf.BertTokenizer(str(vocab))


def _bpe_files(folder: Path, specials: tuple[str, ...]) -> tuple[Path, Path]:
    """A byte-level BPE vocabulary: every byte, plus whole-word merges for WORDS."""
    symbols = list(specials) + sorted(ByteLevel.alphabet())
    merges: list[str] = []
    for word in WORDS:
        piece = "Ġ" + word[0]
        merges.append(f"Ġ {word[0]}")
        for char in word[1:]:
            merges.append(f"{piece} {char}")
            piece += char
            symbols.append(piece)
        symbols.append("Ġ" + word[0])
    vocab = {symbol: index for index, symbol in enumerate(dict.fromkeys(symbols))}
    merges = list(dict.fromkeys(merges))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder / "vocab.json", folder / "merges.txt"


def _seeded(build: Callable[[], tf.PreTrainedModel]) -> tf.PreTrainedModel:
    torch.manual_seed(SEED)
    return build().eval()


def _vision(**extra: object) -> dict[str, object]:
    return {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": IMAGE_SIZE,
        "patch_size": 8,
        **extra,
    }


def git(folder: Path) -> Path:
    tokenizer = _bert_tokenizer(folder)
    config = tf.GitConfig(
        vision_config=_vision(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=len(tokenizer),
        max_position_embeddings=64,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=0.2,
    )
    model = _seeded(lambda: tf.GitForCausalLM(config))
    image_processor = tf.CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    tf.GitProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def blip(folder: Path) -> Path:
    tokenizer = _bert_tokenizer(folder, extra=("[DEC]",))
    config = tf.BlipConfig(
        vision_config=_vision(initializer_range=0.2),
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "encoder_hidden_size": 32,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 64,
            "bos_token_id": tokenizer.convert_tokens_to_ids("[DEC]"),
            "sep_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "initializer_range": 0.2,
        },
    )
    model = _seeded(lambda: tf.BlipForConditionalGeneration(config))
    image_processor = tf.BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    tf.BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def vision_encoder_decoder(folder: Path) -> Path:
    vocab, merges = _bpe_files(folder, ("<|endoftext|>",))
    tokenizer = tf.GPT2Tokenizer(str(vocab), str(merges))
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    encoder = tf.ViTConfig(**_vision(initializer_range=0.2))
    decoder = tf.GPT2Config(
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        vocab_size=len(tokenizer),
        bos_token_id=end,
        eos_token_id=end,
        add_cross_attention=True,
        is_decoder=True,
        initializer_range=0.2,
    )
    config = tf.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = end
    model = _seeded(lambda: tf.VisionEncoderDecoderModel(config))
    tf.ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder


def florence2(folder: Path) -> Path:
    specials = ("<s>", "<pad>", "</s>", "<unk>", "<image>")
    vocab, merges = _bpe_files(folder, specials)
    tokenizer = tf.BartTokenizer(
        str(vocab), str(merges), extra_special_tokens={"image_token": "<image>"}
    )
    vision = tf.Florence2VisionConfig(
        depths=(1, 1, 1, 1),
        embed_dim=(8, 16, 32, 32),
        num_heads=(1, 2, 4, 4),
        num_groups=(1, 2, 4, 4),
        window_size=2,
        projection_dim=32,
        drop_path_rate=0.0,
    )
    text = tf.BartConfig(
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        init_std=0.2,
    )
    config = tf.Florence2Config(
        vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id
    )
    model = _seeded(lambda: tf.Florence2ForConditionalGeneration(config))
    with torch.no_grad():
        features = model.get_image_features(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))
    image_processor = tf.CLIPImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_center_crop=False,
        image_seq_length=features.pooler_output.shape[1],
    )
    tf.Florence2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        folder
    )
    model.save_pretrained(folder)
    return folder
