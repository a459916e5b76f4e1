"""An exported folder (``models export``) serves without torch or transformers and writes exactly
the captions the onnx backend writes from the model folder it came from."""

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
import pytest
import transformers as tf
from PIL import Image

from imagecaption.models.base import CaptionOptions, ModelError
from imagecaption.models.hf.captioner import DecodingCaptioner
from imagecaption.models.hf.decoding import decode
from imagecaption.models.hf.export import _cleans_up_spaces, export_model
from imagecaption.models.hf.exported import (
    Detokenizer,
    ExportedCaptioner,
    check_exported,
    verify_checksums,
)
from imagecaption.models.hf.preprocessing import centre_band, from_processor
from imagecaption.models.registry import create_captioner
from imagecaption.settings import load_settings
from tests.conftest import photo
from tests.e2e.server import RunningServer
from tests.models.hf.conftest import ARCHITECTURES, Captioners, Folders
from tests.models.hf.served import assert_serves_like, serve_model
from tests.models.hf.tiny import WORDS

Exports = Callable[[str, bool], Path]
OPTIONS = (
    CaptionOptions(),
    CaptionOptions(max_length=5),
    CaptionOptions(num_captions=3),
    CaptionOptions(max_length=4, num_captions=2),
)


@pytest.fixture(scope="session")
def exports(folders: Folders, tmp_path_factory: pytest.TempPathFactory) -> Exports:
    made: dict[tuple[str, bool], Path] = {}
    root = tmp_path_factory.mktemp("exported")
    settings = load_settings(None, data_dir=root / "data")

    def exported(architecture: str, quantize: bool) -> Path:
        if (architecture, quantize) not in made:
            out = root / f"{architecture}-{'int8' if quantize else 'fp32'}"
            made[architecture, quantize] = export_model(
                str(folders(architecture)), out, quantize, settings
            )
        return made[architecture, quantize]

    return exported


def _loaded(captioner: DecodingCaptioner) -> DecodingCaptioner:
    captioner.load()
    return captioner


def _tokens(
    captioner: DecodingCaptioner, images: list[Image.Image], options: CaptionOptions
) -> list[list[tuple[int, ...]]]:
    loaded = captioner._ready()
    pixels = np.stack([loaded.preprocess(image) for image in images])
    prompt = np.tile(np.array(loaded.spec.prompts[options.detail or "brief"]), (len(images), 1))
    found = decode(loaded.runtime, pixels, prompt, loaded.spec.generation(options))
    return [[h.tokens for h in hypotheses] for hypotheses in found]


@pytest.mark.parametrize("quantize", [True, False], ids=["int8", "float32"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_an_export_writes_the_onnx_backends_tokens_and_captions(
    captioners: Captioners,
    exports: Exports,
    images: list[Image.Image],
    architecture: str,
    quantize: bool,
) -> None:
    source = captioners(architecture, "onnx-int8" if quantize else "onnx")
    served = _loaded(ExportedCaptioner(architecture, exports(architecture, quantize), threads=2))
    assert served.info.detail_levels == source.info.detail_levels
    options = list(OPTIONS)
    if "detailed" in source.info.detail_levels:
        options.append(CaptionOptions(detail="detailed", max_length=6))
    for option in options:
        assert _tokens(served, images, option) == _tokens(source, images, option)
        expected = source.caption_batch(images, option)
        got = served.caption_batch(images, option)
        assert [c.candidates for c in got] == [c.candidates for c in expected]
    alone = [served.caption_batch([image], OPTIONS[1])[0].text for image in images]
    assert alone == [c.text for c in served.caption_batch(images, OPTIONS[1])]


REAL_PROCESSORS = {
    "git-base-coco (CLIP, short side 224, centre crop)": lambda: tf.CLIPImageProcessorPil(),
    "blip-base (384 x 384, bicubic)": lambda: tf.BlipImageProcessorPil(
        size={"height": 384, "width": 384}
    ),
    "vit-gpt2 (224 x 224, bilinear, mean 0.5)": lambda: tf.ViTImageProcessorPil(),
    "florence-2 (768 x 768, ImageNet mean)": lambda: tf.CLIPImageProcessorPil(
        size={"height": 768, "width": 768},
        do_center_crop=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ),
}
"""The settings of the real models' processors, as their hubs' preprocessor_config.json give
them (written here: no hub can be reached where the tests run)."""


def _odd_images() -> list[Image.Image]:
    rng = np.random.default_rng(3)
    noise = Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 255, (41, 29, 4), dtype=np.uint8), "RGBA")
    return [
        photo("chelsea"),
        photo("astronaut").convert("L"),
        noise,
        rgba,
        noise.convert("P"),
        noise.resize((3, 5)),
        noise.resize((900, 7)),  # kept to a band four times as long as wide
    ]


@pytest.mark.parametrize("name", [*ARCHITECTURES, *REAL_PROCESSORS])
def test_preprocessing_equals_the_transformers_processor(folders: Folders, name: str) -> None:
    if name in REAL_PROCESSORS:
        processor = REAL_PROCESSORS[name]()
    else:
        processor = tf.AutoImageProcessor.from_pretrained(folders(name), backend="pil")
    ours = from_processor(processor)
    for image in _odd_images():
        shaped = centre_band(image) if ours.resize and "shortest_edge" in ours.resize else image
        expected = processor(images=shaped.convert("RGB"), return_tensors="np")["pixel_values"][0]
        got = ours(image)
        assert got.dtype == np.float32
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-6


def _wordpiece_with_punctuation(folder: Path) -> tf.PreTrainedTokenizerBase:
    """A BERT vocabulary that spells the punctuation transformers' clean-up joins."""
    vocab = folder / "vocab.txt"
    marks = [".", ",", "!", "?", "'", "s", "t", "m", "re", "ve", "n"]
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *marks, *WORDS]))
    return tf.BertTokenizer(str(vocab))


@pytest.mark.parametrize("clean_up", [False, True])
@pytest.mark.parametrize("vocabulary", [*ARCHITECTURES, "wordpiece with punctuation"])
def test_detokenising_equals_the_transformers_tokenizer(
    folders: Folders, tmp_path: Path, vocabulary: str, clean_up: bool
) -> None:
    if vocabulary in ARCHITECTURES:
        tokenizer = tf.AutoTokenizer.from_pretrained(folders(vocabulary))
    else:
        tokenizer = _wordpiece_with_punctuation(tmp_path)
    tokenizer.clean_up_tokenization_spaces = clean_up
    tokenizer.backend_tokenizer.save(str(tmp_path / "tokenizer.json"))
    ours = Detokenizer(tmp_path / "tokenizer.json", _cleans_up_spaces(tokenizer))
    rng = np.random.default_rng(5)
    marks = tokenizer.convert_tokens_to_ids([".", ",", "!", "?", "'", "s", "t", "n"])
    for _ in range(300):
        tokens = rng.integers(0, len(tokenizer), rng.integers(1, 10)).tolist()
        tokens += rng.choice(marks, 4).tolist() + rng.integers(0, len(tokenizer), 3).tolist()
        tokens = rng.permutation(tokens).tolist()
        assert ours(tokens) == tokenizer.decode(tokens, skip_special_tokens=True)


def _copy(exports: Exports, tmp_path: Path) -> Path:
    folder = tmp_path / "git-export"
    shutil.copytree(exports("git", True), folder)
    return folder


def _edit_manifest(**changes: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, **changes}))

    return edit


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "has no manifest.json"),
    "manifest not JSON": (
        lambda f: (f / "manifest.json").write_text('{"format": '),
        "manifest.json cannot be read",
    ),
    "another format version": (_edit_manifest(format_version=99), "format version 99"),
    "not our manifest": (_edit_manifest(format="something-else"), "not the manifest"),
    "step graph missing": (lambda f: (f / "step.onnx").unlink(), "step.onnx missing"),
    "tokenizer missing": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json missing"),
    "graph truncated": (lambda f: _truncate(f / "prefill.onnx"), "prefill.onnx not of the size"),
    "a required file unlisted": (
        lambda f: _edit_manifest(
            files={
                n: e
                for n, e in json.loads((f / "manifest.json").read_text())["files"].items()
                if n != "processing.json"
            }
        )(f),
        "processing.json missing",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_export_is_refused_with_one_line(
    exports: Exports, tmp_path: Path, breakage: str
) -> None:
    folder = _copy(exports, tmp_path)
    breaking, reason = BREAKAGES[breakage]
    breaking(folder)
    with pytest.raises(ModelError, match=reason) as raised:
        check_exported(folder)
    assert "\n" not in str(raised.value)
    assert str(tmp_path) not in str(raised.value)  # names the folder, not the machine's path


def test_a_damaged_file_of_the_right_size_fails_its_checksum(
    exports: Exports, tmp_path: Path
) -> None:
    folder = _copy(exports, tmp_path)
    graph = folder / "step.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    manifest = check_exported(folder)  # sizes match
    with pytest.raises(ModelError, match=r"step\.onnx does not match its checksum"):
        verify_checksums(folder, manifest)
    with pytest.raises(ModelError, match="checksum"):
        ExportedCaptioner("git", folder, threads=2).load()


def test_serve_refuses_a_partial_export_at_once(exports: Exports, tmp_path: Path) -> None:
    folder = _copy(exports, tmp_path)
    (folder / "step.onnx").unlink()
    command = ["serve", "--model", str(folder), "--backend", "onnx"]
    result = subprocess.run(
        [sys.executable, "-m", "imagecaption", *command, "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: git-export is incomplete: step.onnx missing."
    ]


def test_an_export_is_refused_on_another_backend(exports: Exports, tmp_path: Path) -> None:
    settings = load_settings(
        None, model=str(exports("git", True)), backend="torch", data_dir=tmp_path
    )
    with pytest.raises(ModelError, match="served by the onnx backend only"):
        create_captioner(settings)


def test_export_refuses_an_existing_folder(folders: Folders, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(ModelError, match="already exists"):
        export_model(str(folders("git")), tmp_path / "out", True, load_settings(None))


def test_the_manifest_names_source_revision_version_and_checksums(
    exports: Exports, folders: Folders
) -> None:
    folder = exports("blip", True)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["source"] == folders("blip").name  # a folder's name, never its path
    assert manifest["revision"].startswith("sha256:")
    assert manifest["model_type"] == "blip"
    assert manifest["precision"] == "int8"
    listed = set(manifest["files"])
    assert listed == {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert {"prefill.onnx", "step.onnx", "tokenizer.json", "processing.json"} <= listed
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert str(folders("blip").parent) not in (folder / "manifest.json").read_text()


SERVE_IN_PROCESS = """
import json, sys
from PIL import Image
from imagecaption.models.base import CaptionOptions
from imagecaption.models.registry import create_captioner
from imagecaption.settings import load_settings

settings = load_settings(None, model=sys.argv[1], backend="onnx", data_dir=sys.argv[2])
captioner = create_captioner(settings)
captioner.load()
images = [Image.open(path) for path in sys.argv[3:]]
captions = [c.text for c in captioner.caption_batch(images, CaptionOptions(num_captions=2))]
print(json.dumps({"captions": captions, "loaded": sorted(
    name for name in ("torch", "transformers", "safetensors", "onnx") if name in sys.modules
)}))
"""


def test_serving_an_export_imports_no_torch_or_transformers(
    captioners: Captioners, exports: Exports, images: list[Image.Image], tmp_path: Path
) -> None:
    """Run where torch and transformers are installed, so any import of them would show."""
    files = []
    for index, image in enumerate(images):
        files.append(tmp_path / f"{index}.png")
        image.save(files[-1])
    model = str(exports("vision_encoder_decoder", True))
    result = subprocess.run(
        [sys.executable, "-c", SERVE_IN_PROCESS, model, str(tmp_path / "data"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert answer["loaded"] == []
    reloaded = [Image.open(file) for file in files]
    expected = captioners("vision_encoder_decoder", "onnx-int8").caption_batch(
        reloaded, CaptionOptions(num_captions=2)
    )
    assert answer["captions"] == [c.text for c in expected]


@pytest.fixture(scope="module")
def served_without_the_extra(
    exports: Exports, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with serve_model(
        tmp_path_factory.mktemp("exported-served"),
        {"model": str(exports("florence2", True)), "backend": "onnx"},
        monthly_credits=1_000_000,
        launcher="tests.models.hf.without_models_extra",
    ) as server:
        yield server


def test_a_server_without_the_models_extra_serves_the_export_over_http(
    served_without_the_extra: RunningServer, captioners: Captioners
) -> None:
    server = served_without_the_extra
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["model"]["name"] == "florence2-int8"
    assert ready["model"]["backend"] == "onnx"
    assert ready["model"]["fallback"] is None
    key = server.create_key("pro")
    source = captioners("florence2", "onnx-int8")
    assert_serves_like(
        server, key, source, [{}, {"num_captions": 2, "max_length": 5}, {"detail": "detailed"}]
    )


def _without_the_extra(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.models.hf.without_models_extra", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        check=False,
    )


def test_pull_and_list_take_an_export_without_the_models_extra(
    exports: Exports, tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    exported = exports("git", True)
    pulled = _without_the_extra("models", "pull", str(exported), "--data-dir", data)
    assert pulled.returncode == 0, pulled.stderr
    assert Path(pulled.stdout.strip()) == tmp_path / "data" / "models" / exported.name
    listed = _without_the_extra(
        "models", "list", "--json", "--data-dir", data, IMAGECAPTION_FULL_MODEL=exported.name
    )
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert listing["serving"] == exported.name
    assert listing["fallback"] is None
    rows = {row["name"]: row for row in listing["models"]}
    assert rows[exported.name]["source"] == "export"
    assert rows[exported.name]["model_type"] == "git"
    assert rows[exported.name]["serving"]
    refused = _without_the_extra("models", "pull", str(tmp_path / "nothing"), "--data-dir", data)
    assert refused.returncode == 1
    assert "neither a model folder nor a model-hub id" in refused.stderr  # not a missing extra
