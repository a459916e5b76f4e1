"""Ready ONNX exports in the Optimum / transformers.js layout serve without torch or transformers
and write the tokens the transformers model with the same weights writes.

The folders are written by ``optimum_layout`` (Optimum's exporter cannot run beside
transformers 5, so its names and its merged decoder are reproduced with ``torch.onnx.export``;
test_optimum_export.py serves ViT+GPT-2 as Optimum's own exporter writes it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import transformers as tf
from PIL import Image

from imagecaption.models.base import CaptionOptions, ModelError
from imagecaption.models.hf.captioner import DecodingCaptioner
from imagecaption.models.hf.decoding import decode
from imagecaption.models.hf.preprocessing import from_config, from_processor
from imagecaption.models.hf.ready_onnx import (
    ReadyOnnxCaptioner,
    _heads,
    check_ready_onnx,
    read_settings,
)
from imagecaption.models.hub import ready_onnx_files
from imagecaption.models.registry import create_captioner
from imagecaption.settings import load_settings
from tests.e2e.server import RunningServer
from tests.models.hf import optimum_layout
from tests.models.hf.conftest import Captioners, Folders
from tests.models.hf.local_hub import COMMIT, local_hub
from tests.models.hf.served import assert_serves_like, serve_model

LAYOUTS = ("vision_encoder_decoder", "florence2")
Ready = Callable[[str], Path]
OPTIONS = (
    CaptionOptions(),
    CaptionOptions(max_length=5),
    CaptionOptions(num_captions=3),
    CaptionOptions(max_length=4, num_captions=2),
)


@pytest.fixture(scope="session")
def ready(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> Ready:
    made: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("ready-onnx")

    def folder(architecture: str) -> Path:
        if architecture not in made:
            made[architecture] = optimum_layout.write(
                folders(architecture), root / f"{architecture}-onnx"
            )
        return made[architecture]

    return folder


def _tokens(
    captioner: DecodingCaptioner, images: list[Image.Image], options: CaptionOptions
) -> list[list[tuple[int, ...]]]:
    loaded = captioner._ready()
    pixels = np.stack([loaded.preprocess(image) for image in images])
    prompt = np.tile(np.array(loaded.spec.prompts[options.detail or "brief"]), (len(images), 1))
    found = decode(loaded.runtime, pixels, prompt, loaded.spec.generation(options))
    return [[h.tokens for h in hypotheses] for hypotheses in found]


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_a_ready_export_writes_the_transformers_models_tokens_and_captions(
    captioners: Captioners,
    ready: Ready,
    images: list[Image.Image],
    architecture: str,
) -> None:
    """Greedy, beam search, lengths, detail levels and batching, against the transformers model
    with the same weights on torch, token for token."""
    reference = captioners(architecture, "torch")
    served = ReadyOnnxCaptioner(architecture, ready(architecture), quantize=True, threads=2)
    served.load()
    assert served.info.detail_levels == reference.info.detail_levels
    options = list(OPTIONS)
    if "detailed" in reference.info.detail_levels:
        options += [CaptionOptions(detail="detailed", max_length=6)]
        options += [CaptionOptions(detail="more_detailed", max_length=8, num_captions=2)]
    for option in options:
        assert _tokens(served, images, option) == _tokens(reference, images, option)
        expected = reference.caption_batch(images, option)
        got = served.caption_batch(images, option)
        assert [[c.text for c in caption.candidates] for caption in got] == [
            [c.text for c in caption.candidates] for caption in expected
        ]
        for ours, theirs in zip(got, expected, strict=True):  # float32 on two runtimes
            scores = [c.score for c in ours.candidates]
            assert scores == pytest.approx([c.score for c in theirs.candidates], rel=1e-5)
    alone = [served.caption_batch([image], OPTIONS[2])[0] for image in images]
    assert alone == served.caption_batch(images, OPTIONS[2])


EXPECTED_NAMES = {
    "vision_encoder_decoder": {
        "encoder_model": (["pixel_values"], ["last_hidden_state"]),
        "decoder_model_merged": (
            ["input_ids", "encoder_hidden_states"]
            + [f"past_key_values.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
            + ["use_cache_branch"],
            ["logits"] + [f"present.{i}.{kv}" for i in range(2) for kv in ("key", "value")],
        ),
    },
    "florence2": {
        "vision_encoder": (["pixel_values"], ["image_features"]),
        "embed_tokens": (["input_ids"], ["inputs_embeds"]),
        "encoder_model": (["inputs_embeds", "attention_mask"], ["last_hidden_state"]),
        "decoder_model_merged": (
            ["inputs_embeds", "encoder_hidden_states", "encoder_attention_mask"]
            + [
                f"past_key_values.{i}.{side}.{kv}"
                for i in range(2)
                for side in ("decoder", "encoder")
                for kv in ("key", "value")
            ]
            + ["use_cache_branch"],
            ["logits"]
            + [
                f"present.{i}.{side}.{kv}"
                for i in range(2)
                for side in ("decoder", "encoder")
                for kv in ("key", "value")
            ],
        ),
    },
}
"""The names the published exports use (Xenova/vit-gpt2-image-captioning's GPT-2 decoder caches
self-attention only; onnx-community/Florence-2-base-ft's BART decoder caches both)."""


@pytest.mark.parametrize("architecture", LAYOUTS)
def test_the_test_graphs_have_the_published_layouts_names(ready: Ready, architecture: str) -> None:
    folder = ready(architecture)
    for graph, (inputs, outputs) in EXPECTED_NAMES[architecture].items():
        session = ort.InferenceSession(str(folder / "onnx" / f"{graph}.onnx"))
        assert [given.name for given in session.get_inputs()] == inputs
        assert [made.name for made in session.get_outputs()] == outputs
    for name in ("config.json", "preprocessor_config.json", "tokenizer.json"):
        assert (folder / name).is_file()
    # Where a graph leaves the cache's heads and head size symbolic, config.json gives them.
    decoder = ort.InferenceSession(str(folder / "onnx" / "decoder_model_merged.onnx"))
    shape = next(i.shape for i in decoder.get_inputs() if i.name.startswith("past_key_values"))
    assert _heads(check_ready_onnx(folder, quantize=False)) == (shape[1], shape[3])


def _copy(ready: Ready, tmp_path: Path, architecture: str = "vision_encoder_decoder") -> Path:
    folder = tmp_path / "vit-gpt2-onnx"
    shutil.copytree(ready(architecture), folder)
    return folder


def test_the_int8_variant_is_served_when_quantize_is_on(ready: Ready, tmp_path: Path) -> None:
    folder = _copy(ready, tmp_path)
    for graph in ("encoder_model", "decoder_model_merged"):
        shutil.copy(folder / "onnx" / f"{graph}.onnx", folder / "onnx" / f"{graph}_quantized.onnx")
    assert check_ready_onnx(folder, quantize=True).variant == "_quantized"
    assert check_ready_onnx(folder, quantize=False).variant == ""
    for graph in ("encoder_model", "decoder_model_merged"):
        (folder / "onnx" / f"{graph}.onnx").unlink()
    assert check_ready_onnx(folder, quantize=False).variant == "_quantized"
    (folder / "onnx" / "encoder_model_quantized.onnx").rename(
        folder / "onnx" / "encoder_model_int8.onnx"
    )
    with pytest.raises(ModelError, match=r"incomplete: onnx/encoder_model\.onnx"):
        check_ready_onnx(folder, quantize=True)  # no variant has both graphs


BREAKAGES: dict[str, tuple[Callable[[Path], object], str]] = {
    "no tokenizer": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json missing"),
    "no preprocessor config": (
        lambda f: (f / "preprocessor_config.json").unlink(),
        "preprocessor_config.json missing",
    ),
    "no encoder": (lambda f: (f / "onnx" / "encoder_model.onnx").unlink(), "encoder_model"),
    "config not JSON": (
        lambda f: (f / "config.json").write_text("{"),
        "config.json cannot be read",
    ),
    "another architecture": (
        lambda f: (f / "config.json").write_text('{"model_type": "whisper"}'),
        "'whisper' has no ready ONNX runner",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_ready_export_is_refused_with_one_line(
    ready: Ready, tmp_path: Path, breakage: str
) -> None:
    folder = _copy(ready, tmp_path)
    breaking, reason = BREAKAGES[breakage]
    breaking(folder)
    settings = load_settings(None, model=str(folder), backend="onnx", data_dir=tmp_path / "d")
    with pytest.raises(ModelError, match=reason) as raised:
        create_captioner(settings)
    assert "\n" not in str(raised.value)
    assert str(tmp_path) not in str(raised.value)


PUBLISHED_PREPROCESSORS = {
    "Xenova/vit-gpt2-image-captioning": {
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "feature_extractor_type": "ViTFeatureExtractor",
        "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "ViTFeatureExtractor",
        "image_std": [0.5, 0.5, 0.5],
        "resample": 2,
        "rescale_factor": 0.00392156862745098,
        "size": {"height": 224, "width": 224},
    },
    "onnx-community/Florence-2-base-ft": {
        "crop_size": {"height": 768, "width": 768},
        "do_center_crop": False,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_processor_type": "CLIPImageProcessor",
        "image_seq_length": 577,
        "image_std": [0.229, 0.224, 0.225],
        "processor_class": "Florence2Processor",
        "resample": 3,
        "rescale_factor": 0.00392156862745098,
        "size": {"height": 768, "width": 768},
    },
    "older ViT file (size as one number, defaults left out)": {
        "do_normalize": True,
        "do_resize": True,
        "feature_extractor_type": "ViTFeatureExtractor",
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "resample": 2,
        "size": 224,
    },
}
"""``preprocessor_config.json`` of those repositories (written here: no hub can be reached where
the tests run). transformers 5 no longer loads the ``ViTFeatureExtractor`` type by itself, so the
reference is the processor class built from the same settings."""
PROCESSOR_CLASSES = {"ViT": tf.ViTImageProcessorPil, "CLIP": tf.CLIPImageProcessorPil}


@pytest.mark.parametrize("name", [*LAYOUTS, *PUBLISHED_PREPROCESSORS])
def test_preprocessor_config_is_read_as_transformers_reads_it(ready: Ready, name: str) -> None:
    if name in PUBLISHED_PREPROCESSORS:
        data = PUBLISHED_PREPROCESSORS[name]
        kind = str(data.get("image_processor_type", data.get("feature_extractor_type")))
        settings = {
            k: v
            for k, v in data.items()
            if k not in ("image_processor_type", "feature_extractor_type", "processor_class")
        }
        family = next(name for name in PROCESSOR_CLASSES if kind.startswith(name))
        processor = PROCESSOR_CLASSES[family](**settings)
    else:
        data = json.loads((ready(name) / "preprocessor_config.json").read_text())
        processor = tf.AutoImageProcessor.from_pretrained(ready(name), backend="pil")
    assert from_config(data) == from_processor(processor)


def test_florence2s_published_generation_settings_are_read(ready: Ready, tmp_path: Path) -> None:
    """onnx-community/Florence-2-base's config.json and generation_config.json (the parts read):
    decoding starts from text_config's decoder start token, forces <s> first and </s> last, and
    bans repeated trigrams, as transformers' generate() does with them."""
    folder = _copy(ready, tmp_path, "florence2")
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["decoder_start_token_id"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    generation = {
        "_from_model_config": True,
        "bos_token_id": 0,
        "decoder_start_token_id": 2,
        "early_stopping": True,
        "eos_token_id": 2,
        "forced_bos_token_id": 0,
        "forced_eos_token_id": 2,
        "no_repeat_ngram_size": 3,
        "num_beams": 3,
        "pad_token_id": 1,
    }
    (folder / "generation_config.json").write_text(json.dumps(generation))
    settings = read_settings(check_ready_onnx(folder, quantize=False))
    assert settings.decoder_start == 2
    spec = settings.spec
    assert (spec.eos, spec.pad, spec.forced_bos, spec.forced_eos) == ((2,), 1, 0, 2)
    assert spec.no_repeat_ngram == 3
    assert spec.marker_tokens == 2  # <s> and the forced </s>
    assert spec.detail_levels == ("brief", "detailed", "more_detailed")


def test_an_unknown_image_processor_is_refused() -> None:
    with pytest.raises(ModelError, match="SiglipImageProcessor is not supported"):
        from_config({"image_processor_type": "SiglipImageProcessor"})


def test_a_hub_download_fetches_configs_and_float32_and_int8_graphs_only() -> None:
    files = [
        "README.md",
        "config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "onnx/encoder_model.onnx",
        "onnx/encoder_model_quantized.onnx",
        "onnx/encoder_model_fp16.onnx",
        "onnx/encoder_model_q4.onnx",
        "onnx/decoder_model.onnx",
        "onnx/decoder_with_past_model.onnx",
        "onnx/decoder_model_merged.onnx",
        "onnx/decoder_model_merged.onnx_data",
        "onnx/decoder_model_merged_quantized.onnx",
        "onnx/decoder_model_merged_int8.onnx",
    ]
    assert ready_onnx_files(files) == [
        "config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "onnx/encoder_model.onnx",
        "onnx/encoder_model_quantized.onnx",
        "onnx/decoder_model_merged.onnx",
        "onnx/decoder_model_merged.onnx_data",
        "onnx/decoder_model_merged_quantized.onnx",
    ]
    assert ready_onnx_files(["model.safetensors", "onnx/decoder_model_merged.onnx"]) == []


REPO = "acme/vit-gpt2-onnx"
BASE_INSTALL = "tests.models.hf.without_models_extra"


@pytest.fixture(scope="module")
def hub_cache(ready: Ready, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub cache (``HF_HOME``) into which the base install's ``models pull`` (no torch or
    transformers) fetched the ready ViT+GPT-2 export from the local stand-in hub."""
    folder = ready("vision_encoder_decoder")
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }
    home = tmp_path_factory.mktemp("ready-hub-cache")
    env = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "0"}
    with local_hub({REPO: files}) as hub:
        pulled = subprocess.run(
            [sys.executable, "-m", BASE_INSTALL, "models", "pull", REPO],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env, "HF_ENDPOINT": hub.url},
            check=False,
        )
    assert pulled.returncode == 0, pulled.stderr
    assert "100%" in pulled.stderr  # the progress bar
    snapshot = Path(pulled.stdout.strip())
    assert snapshot.name == COMMIT
    assert (snapshot / "onnx" / "decoder_model_merged.onnx").is_file()
    return home


def test_the_base_install_refuses_to_pull_a_repository_it_cannot_serve(tmp_path: Path) -> None:
    """A transformers-weights repository is refused by its file list, before its weights are
    fetched, with one line saying what would serve it."""
    weights = {"config.json": b"{}", "model.safetensors": b"0" * 1024}
    env = {"HF_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "0"}
    with local_hub({"acme/git-weights": weights}) as hub:
        pulled = subprocess.run(
            [sys.executable, "-m", BASE_INSTALL, "models", "pull", "acme/git-weights"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env, "HF_ENDPOINT": hub.url},
            check=False,
        )
        fetched = hub.fetched()
    assert pulled.returncode != 0
    assert "holds no ready ONNX export" in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert "model.safetensors" not in fetched


def test_auto_and_models_list_take_a_ready_export_from_the_hub_cache(
    hub_cache: Path, tmp_path: Path
) -> None:
    command = ["models", "list", "--json", "--data-dir", str(tmp_path / "data")]
    listed = subprocess.run(
        [sys.executable, "-m", "tests.models.hf.without_models_extra", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "HF_HOME": str(hub_cache),
            "HF_HUB_OFFLINE": "1",
            "IMAGECAPTION_FULL_MODEL": REPO,
        },
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert listing["serving"] == REPO
    assert listing["fallback"] is None


@pytest.fixture(scope="module")
def served_from_the_hub(
    hub_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server without the models extra, serving the ready export by its hub id from the hub
    cache, where ``models pull`` put it."""
    with serve_model(
        tmp_path_factory.mktemp("ready-served"),
        {"model": REPO, "backend": "onnx"},
        monthly_credits=1_000_000,
        launcher=BASE_INSTALL,
        env={"HF_HOME": str(hub_cache), "HF_HUB_OFFLINE": "1"},
    ) as server:
        yield server


def test_a_server_without_the_models_extra_serves_a_ready_export_from_the_hub(
    served_from_the_hub: RunningServer, captioners: Captioners
) -> None:
    server = served_from_the_hub
    ready_state = httpx.get(server.url + "/readyz").json()
    assert ready_state["model"]["name"] == REPO
    assert ready_state["model"]["backend"] == "onnx"
    key = server.create_key("pro")
    reference = captioners("vision_encoder_decoder", "torch")
    assert_serves_like(server, key, reference, [{}, {"num_captions": 2, "max_length": 5}])
