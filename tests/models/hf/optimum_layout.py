"""Tiny models written in the layout that Optimum and transformers.js publish on the hub.

Optimum's exporter is not installable beside transformers 5 (no release of ``optimum`` or
``optimum-onnx`` in the package index the tests use supports it), so these graphs are written
with ``torch.onnx.export`` under the names and in the structure Optimum writes, as its exporter
and the published repositories (Xenova/vit-gpt2-image-captioning,
onnx-community/Florence-2-base-ft) show them:

- ``onnx/encoder_model.onnx``: ``pixel_values`` -> ``last_hidden_state`` (vision-encoder-decoder).
- Florence-2: ``onnx/vision_encoder.onnx`` (``pixel_values`` -> ``image_features``),
  ``onnx/embed_tokens.onnx`` (``input_ids`` -> ``inputs_embeds``), ``onnx/encoder_model.onnx``
  (``inputs_embeds``, ``attention_mask`` -> ``last_hidden_state``).
- ``onnx/decoder_model_merged.onnx``: Optimum's ``merge_decoders`` joins the decoder without past
  and the decoder with past in one graph whose ``If`` node picks the branch by the boolean input
  ``use_cache_branch``. Inputs: ``input_ids`` (``inputs_embeds`` for Florence-2),
  ``encoder_hidden_states``, ``encoder_attention_mask`` (Florence-2), ``past_key_values.{i}.key``
  / ``.value`` (GPT-2: self-attention only) or ``past_key_values.{i}.decoder.key`` / ``.value``
  and ``past_key_values.{i}.encoder.key`` / ``.value`` (BART), and ``use_cache_branch``; outputs
  ``logits`` and ``present.*`` under the same names. With the cache, the cross-attention
  ``present.{i}.encoder.*`` outputs are not recomputed (here they pass the past through; Optimum
  writes placeholders), and a runner keeps the ones from the first call.

Beside the graphs: ``config.json``, ``generation_config.json``, ``preprocessor_config.json``,
``tokenizer.json`` and ``tokenizer_config.json`` of the same model, as those repositories hold.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import onnx
import onnx.compose
import torch
import transformers as tf
from onnx import TensorProto, helper
from transformers import DynamicCache, EncoderDecoderCache

from imagecaption.models.hf.graphs import _dynamic_cache, _split

OPSET = 17
CONFIG_FILES = (
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
)


def write(source: Path, out: Path, quantized_suffix: str | None = None) -> Path:
    """``source`` (a tiny model folder) in the Optimum layout under ``out``; with
    ``quantized_suffix`` (e.g. ``_quantized``) the graphs get that name instead of the plain one
    (float32 weights still: only the naming of the variant is exercised)."""
    config = tf.AutoConfig.from_pretrained(source)
    graphs = out / "onnx"
    graphs.mkdir(parents=True)
    tokenizer = tf.AutoTokenizer.from_pretrained(source)
    tokenizer.save_pretrained(out)
    tf.AutoImageProcessor.from_pretrained(source, backend="pil").save_pretrained(out)
    for name in CONFIG_FILES:
        if (source / name).is_file() and not (out / name).is_file():
            shutil.copy(source / name, out / name)
    for stale in ("vocab.json", "merges.txt", "special_tokens_map.json", "vocab.txt"):
        (out / stale).unlink(missing_ok=True)
    if config.model_type == "vision-encoder-decoder":
        model: Any = tf.VisionEncoderDecoderModel.from_pretrained(source)
        model.eval()
        _vision_encoder_decoder(model, graphs)
    elif config.model_type == "florence2":
        model = tf.Florence2ForConditionalGeneration.from_pretrained(source)
        model.eval()
        size = json.loads((out / "preprocessor_config.json").read_text())["size"]["height"]
        _florence2(model, graphs, int(size))
    else:
        raise ValueError(config.model_type)
    if quantized_suffix:
        for graph in graphs.glob("*.onnx"):
            graph.rename(graph.with_name(f"{graph.stem}{quantized_suffix}.onnx"))
    return out


def _export(
    module: torch.nn.Module,
    args: tuple[Any, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
    axes: dict[str, dict[int, str]],
) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes={name: axes[name] for name in inputs + outputs if name in axes},
            opset_version=OPSET,
            dynamo=False,
        )


def _kv_axes(names: list[str]) -> dict[str, dict[int, str]]:
    return {
        name: {0: "batch_size", 2: "encoder_sequence_length" if ".encoder." in name else "past"}
        for name in names
    }


AXES = {
    "pixel_values": {0: "batch_size"},
    "input_ids": {0: "batch_size", 1: "sequence_length"},
    "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
    "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
    "encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
    "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
    "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"},
    "image_features": {0: "batch_size", 1: "image_sequence_length"},
    "logits": {0: "batch_size", 1: "sequence_length"},
}


class _VitEncoder(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.model.encoder(pixel_values=pixel_values).last_hidden_state
        return hidden


class _Gpt2Decoder(torch.nn.Module):
    """GPT-2 as the decoder of a vision-encoder-decoder model, as Optimum exported it: only the
    self-attention keys and values are cached; cross-attention reads the encoder states anew."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, encoder_hidden_states: torch.Tensor, *past: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        cache = EncoderDecoderCache(_dynamic_cache(past), DynamicCache())
        out = self.model.decoder(
            input_ids=input_ids,
            encoder_hidden_states=encoder_hidden_states,
            cache=cache,
            use_cache=True,
        )
        own, _ = _split(out.cache)
        return (out.logits, *own)


def _vision_encoder_decoder(model: Any, graphs: Path) -> None:
    size = model.config.encoder.image_size
    pixels = torch.randn(2, 3, size, size)
    encoder = _VitEncoder(model)
    _export(
        encoder,
        (pixels,),
        graphs / "encoder_model.onnx",
        ["pixel_values"],
        ["last_hidden_state"],
        AXES,
    )
    with torch.no_grad():
        memory = encoder(pixels)
    layers = model.config.decoder.n_layer
    past = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    present = [name.replace("past_key_values", "present") for name in past]
    decoder = _Gpt2Decoder(model)
    prompt = torch.tensor([[model.config.decoder_start_token_id]] * 2)
    with torch.no_grad():
        first = decoder(prompt, memory)
    axes = {**AXES, **_kv_axes(past + present)}
    no_past, with_past = graphs / "decoder_model.onnx", graphs / "decoder_with_past_model.onnx"
    outputs = ["logits", *present]
    _export(
        decoder, (prompt, memory), no_past, ["input_ids", "encoder_hidden_states"], outputs, axes
    )
    inputs = ["input_ids", "encoder_hidden_states", *past]
    _export(decoder, (prompt, memory, *first[1:]), with_past, inputs, outputs, axes)
    _merge(no_past, with_past, graphs / "decoder_model_merged.onnx", inputs, outputs)


class _Florence2Vision(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.model.get_image_features(pixel_values).pooler_output
        return features


class _Florence2Embed(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        embeds: torch.Tensor = self.model.get_input_embeddings()(input_ids)
        return embeds


class _Florence2Encoder(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        encoder = self.model.model.language_model.encoder
        hidden: torch.Tensor = encoder(
            inputs_embeds=inputs_embeds, attention_mask=attention_mask
        ).last_hidden_state
        return hidden


class _BartDecoder(torch.nn.Module):
    """BART's decoder with its cache as Optimum names it: per layer the self-attention keys and
    values (``decoder``), then the cross-attention ones (``encoder``)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
        *past: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        own = [t for i, t in enumerate(past) if i % 4 < 2]
        cross = [t for i, t in enumerate(past) if i % 4 >= 2]
        cache = EncoderDecoderCache(_dynamic_cache(own), _dynamic_cache(cross))
        out = self.model.model.language_model.decoder(
            inputs_embeds=inputs_embeds,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            cache=cache,
            use_cache=True,
        )
        logits = self.model.lm_head(out.last_hidden_state)
        own_now, cross_now = _split(out.cache)
        flat: list[torch.Tensor] = []
        for layer in range(len(own_now) // 2):
            flat += own_now[2 * layer : 2 * layer + 2]
            if not past:  # with the cache, cross-attention's keys and values are not output
                flat += cross_now[2 * layer : 2 * layer + 2]
        return (logits, *flat)


def _florence2(model: Any, graphs: Path, size: int) -> None:
    pixels = torch.randn(2, 3, size, size)
    vision = _Florence2Vision(model)
    _export(
        vision,
        (pixels,),
        graphs / "vision_encoder.onnx",
        ["pixel_values"],
        ["image_features"],
        AXES,
    )
    embed = _Florence2Embed(model)
    text = torch.tensor([[0, 5, 6, 2]] * 2)
    _export(embed, (text,), graphs / "embed_tokens.onnx", ["input_ids"], ["inputs_embeds"], AXES)
    with torch.no_grad():
        joined = torch.cat([vision(pixels), embed(text)], dim=1)
    mask = torch.ones(joined.shape[:2], dtype=torch.long)
    encoder = _Florence2Encoder(model)
    _export(
        encoder,
        (joined, mask),
        graphs / "encoder_model.onnx",
        ["inputs_embeds", "attention_mask"],
        ["last_hidden_state"],
        AXES,
    )
    with torch.no_grad():
        memory = encoder(joined, mask)
    layers = model.config.text_config.decoder_layers
    kinds = ("decoder.key", "decoder.value", "encoder.key", "encoder.value")
    past = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in kinds]
    present = [name.replace("past_key_values", "present") for name in past]
    own_present = [name for name in present if ".decoder." in name]
    decoder = _BartDecoder(model)
    start = embed(torch.tensor([[model.config.text_config.decoder_start_token_id]] * 2))
    with torch.no_grad():
        first = decoder(start, memory, mask)
    axes = {**AXES, **_kv_axes(past + present)}
    no_past, with_past = graphs / "decoder_model.onnx", graphs / "decoder_with_past_model.onnx"
    heads = ["inputs_embeds", "encoder_hidden_states", "encoder_attention_mask"]
    _export(decoder, (start, memory, mask), no_past, heads, ["logits", *present], axes)
    _export(
        decoder,
        (start, memory, mask, *first[1:]),
        with_past,
        [*heads, *past],
        ["logits", *own_present],
        axes,
    )
    merged = graphs / "decoder_model_merged.onnx"
    _merge(no_past, with_past, merged, [*heads, *past], ["logits", *present])


def _branch(path: Path, prefix: str, outputs: list[str], passed: dict[str, str]) -> onnx.GraphProto:
    """A decoder graph as a subgraph of the merged one: no inputs of its own (it reads the outer
    graph's by name), its values renamed apart from the other branch's, and ``outputs`` in order
    (those in ``passed`` are the outer input of that name, handed through)."""
    model = onnx.compose.add_prefix(
        onnx.load(str(path)), prefix, rename_inputs=False, rename_functions=False
    )
    graph = model.graph
    produced = {out.name.removeprefix(prefix): out.name for out in graph.output}
    nodes = list(graph.node)
    names = []
    for name in outputs:
        if name in produced:
            names.append(produced[name])
        else:
            names.append(prefix + name)
            nodes.append(helper.make_node("Identity", [passed[name]], [prefix + name]))
    return helper.make_graph(
        nodes,
        prefix.strip("_"),
        inputs=[],
        outputs=[helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in names],
        initializer=list(graph.initializer),
    )


def _merge(
    no_past: Path, with_past: Path, out: Path, inputs: list[str], outputs: list[str]
) -> None:
    """Optimum's ``merge_decoders``: one graph, an ``If`` on ``use_cache_branch``."""
    template = onnx.load(str(with_past))
    declared = {value.name: value for value in template.graph.input}
    for value in onnx.load(str(no_past)).graph.input:
        declared.setdefault(value.name, value)
    passed = {
        name: name.replace("present", "past_key_values") for name in outputs if ".encoder." in name
    }
    branch = helper.make_node(
        "If",
        ["use_cache_branch"],
        outputs,
        then_branch=_branch(with_past, "with_past_", outputs, passed),
        else_branch=_branch(no_past, "no_past_", outputs, passed),
    )
    graph = helper.make_graph(
        [branch],
        "merged_decoder",
        inputs=[
            *(declared[name] for name in inputs),
            helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]),
        ],
        outputs=[helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
    )
    merged = helper.make_model(graph, opset_imports=template.opset_import)
    merged.ir_version = template.ir_version
    onnx.save(merged, str(out))
    no_past.unlink()
    with_past.unlink()
