"""Where full models come from: a local folder, the model hub's cache, or a download.

A model reference is either a folder (for air-gapped operators: copy a downloaded model anywhere,
or into ``<data_dir>/models/<name>``) or a hub id such as ``microsoft/git-base-coco``. Downloads
go into the standard hub cache, so other tools on the machine share them. ``huggingface_hub`` is
imported only here and only when needed: the base install works without it.

Nothing here waits long for the network: ``HF_HUB_OFFLINE=1`` skips it at once, and every request
has a short connect timeout, so a machine without hub access falls back in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from imagecaption.models.base import ModelError

WEIGHTS_WE_SKIP = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "*.onnx_data", "*.tflite", "*.ckpt"]
WEIGHTS_WE_SKIP += ["tf_model*", "flax_model*", "rust_model*", "onnx/*", "openvino/*"]
ALL_WE_SKIP = [*WEIGHTS_WE_SKIP, "*.bin"]
"""Also pickled weights, which are skipped when the repository has safetensors."""


def local_models_dir(data_dir: Path) -> Path:
    """Folders dropped here are served by name (``--model NAME``) and listed by ``models list``."""
    return data_dir / "models"


def find_local(reference: str, data_dir: Path) -> Path | None:
    """The folder holding ``reference`` on this machine, without touching the network."""
    path = Path(reference).expanduser()
    if path.is_dir():
        return path
    named = local_models_dir(data_dir) / reference
    if reference and "/" not in reference and named.is_dir():
        return named
    if not looks_like_hub_id(reference):
        return None
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        return None
    try:
        # The same patterns as the download, or the client calls a snapshot without the skipped
        # files incomplete; a folder that lacks weights is refused later, by the folder check.
        return Path(
            snapshot_download(reference, local_files_only=True, ignore_patterns=ALL_WE_SKIP)
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def looks_like_hub_id(reference: str) -> bool:
    parts = reference.split("/")
    return len(parts) == 2 and all(parts) and not reference.startswith((".", "~"))


def hub_unreachable(timeout: float) -> str | None:
    """None when the hub answers; otherwise why not, in words for the log and for /readyz."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return "the 'models' extra is not installed (pip install 'imagecaption[models]')"
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        httpx.head(constants.ENDPOINT, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"the model hub ({constants.ENDPOINT}) cannot be reached ({exc})"
    return None


def download(repo_id: str, timeout: float, ready_only: bool = False) -> Path:
    """Fetch a model into the hub cache with progress bars on stderr; return its folder.

    Only what transformers loads is fetched: safetensors when the repository has them (not the
    same weights again as a pickle), configs, tokenizer and processor files. A repository in the
    ready ONNX layout is fetched as that layout (see ``ready_onnx_files``). ``ready_only`` (the
    base install, which cannot run transformers weights) refuses any other repository before a
    byte of its weights is fetched.
    """
    try:
        from huggingface_hub import model_info, snapshot_download
    except ImportError:
        raise ModelError(
            "Downloading models needs the 'models' extra: pip install 'imagecaption[models]'."
        ) from None
    try:
        files = [entry.rfilename for entry in model_info(repo_id, timeout=timeout).siblings or []]
    except Exception as exc:  # the hub client raises errors of several HTTP libraries
        raise ModelError(
            f"Downloading {repo_id} from the model hub failed: {exc}. Check the id and the "
            "network, or copy the model folder to this machine and pass its path."
        ) from None
    ready = ready_onnx_files(files)
    if ready_only and not ready:
        raise ModelError(
            f"{repo_id} holds no ready ONNX export (onnx/decoder_model_merged*.onnx beside "
            "configs, without transformers weights), so the base install cannot serve it: "
            "install the 'models' extra, or export it once with 'imagecaption models export' "
            "where that extra is installed and serve the folder."
        )
    try:
        safetensors = any(name.endswith(".safetensors") for name in files)
        skip = ALL_WE_SKIP if safetensors else WEIGHTS_WE_SKIP
        if ready:
            folder = snapshot_download(repo_id, etag_timeout=timeout, allow_patterns=ready)
        else:
            folder = snapshot_download(repo_id, etag_timeout=timeout, ignore_patterns=skip)
    except Exception as exc:  # the hub client raises errors of several HTTP libraries
        raise ModelError(
            f"Downloading {repo_id} from the model hub failed: {exc}. Check the id and the "
            "network, or copy the model folder to this machine and pass its path."
        ) from None
    return Path(folder)


READY_ONNX_GRAPHS = ("encoder_model", "decoder_model_merged", "vision_encoder", "embed_tokens")
"""The graphs of the ready ONNX layouts served (see ``hf/ready_onnx``); of each, the float32 and
the int8 (``_quantized``) variant is fetched, not the others a repository may hold."""


def ready_onnx_files(files: list[str]) -> list[str]:
    """What to fetch of a repository in the Optimum / transformers.js layout (no transformers
    weights, a merged decoder under ``onnx/``): the top-level JSON files (configs, tokenizer)
    and the float32 and int8 graphs with their external data; empty for any other repository."""
    weights = any(name.endswith((".safetensors", ".bin")) for name in files)
    if weights or not any(name.startswith("onnx/decoder_model_merged") for name in files):
        return []
    graphs = {
        f"onnx/{graph}{variant}.onnx"
        for graph in READY_ONNX_GRAPHS
        for variant in ("", "_quantized")
    }
    return [
        name
        for name in files
        if ("/" not in name and name.endswith(".json"))
        or name in graphs
        or name.removesuffix("_data") in graphs
    ]


@dataclass(frozen=True)
class LocalModel:
    name: str
    source: str
    """``hub cache``, ``folder`` or ``export`` (written by ``imagecaption models export``)."""
    path: Path
    model_type: str | None


def list_local(data_dir: Path) -> list[LocalModel]:
    """Models on this machine: hub-cache snapshots and folders under ``<data_dir>/models``."""
    found = _hub_cache_models()
    folders = local_models_dir(data_dir)
    if folders.is_dir():
        for folder in sorted(p for p in folders.iterdir() if p.is_dir()):
            kind = model_type(folder)
            if kind is not None:
                found.append(LocalModel(folder.name, "folder", folder, kind))
            elif (exported := exported_model_type(folder)) is not None:
                found.append(LocalModel(folder.name, "export", folder, exported))
    return found


def _hub_cache_models() -> list[LocalModel]:
    try:
        from huggingface_hub import scan_cache_dir
        from huggingface_hub.errors import CacheNotFound
    except ImportError:
        return []
    try:
        repos = scan_cache_dir().repos
    except (CacheNotFound, OSError):
        return []
    found = []
    for repo in sorted(repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            kind = model_type(revision.snapshot_path)
            if kind is not None:
                found.append(LocalModel(repo.repo_id, "hub cache", revision.snapshot_path, kind))
                break
    return found


def model_type(folder: Path) -> str | None:
    """The ``model_type`` in a folder's config.json, or None when it is not a model folder."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    kind = config.get("model_type") if isinstance(config, dict) else None
    return str(kind) if kind else None


def exported_model_type(folder: Path) -> str | None:
    """The ``model_type`` in an exported folder's manifest.json, or None when there is none."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    kind = manifest.get("model_type") if isinstance(manifest, dict) else None
    return str(kind) if kind else None
