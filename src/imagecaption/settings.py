"""The one typed place for every setting.

Values come, highest priority first, from command-line flags (passed in as overrides),
``IMAGECAPTION_*`` environment variables, an optional TOML config file (``IMAGECAPTION_CONFIG`` or
``--config``), and the defaults below. Nested values (plans, allow-list) can be given as JSON in the
environment, e.g. ``IMAGECAPTION_URL_ALLOW_LIST='["127.0.0.1/32"]'``.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BackendName = Literal["auto", "torch", "onnx", "openvino"]
"""How a full model runs; the CLI's --backend takes the same names."""

ENV_PREFIX = "IMAGECAPTION_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"


class Plan(BaseModel):
    """A billing plan; operators may add or change plans in the config file."""

    monthly_credits: int = Field(ge=0)
    signup_bonus: int = Field(
        default=0, ge=0, description="One-off credits granted at key creation."
    )
    cost_per_call: int = Field(default=10, ge=0)
    requests_per_minute: int | None = Field(
        default=None, ge=1, description="Per-key request limit per minute; None means unthrottled."
    )


def default_plans() -> dict[str, Plan]:
    """The hosted service's plan names; only the free plan is throttled."""
    return {
        "free": Plan(monthly_credits=1_000, signup_bonus=500, requests_per_minute=30),
        "starter": Plan(monthly_credits=100_000),
        "pro": Plan(monthly_credits=1_000_000),
        "mega": Plan(monthly_credits=10_000_000),
    }


def default_translation_models() -> dict[str, str]:
    """MarianMT's opus-mt-en-xx where one is published for the language (about 300 MB each,
    one language per model), NLLB-200 distilled (2.4 GB, some 200 languages) for Portuguese,
    which has no opus-mt-en-pt."""
    models = {lang: f"Helsinki-NLP/opus-mt-en-{lang}" for lang in ("de", "fr", "es", "it")}
    return models | {"pt": "facebook/nllb-200-distilled-600M"}


def default_data_dir() -> Path:
    return Path(user_data_dir("imagecaption", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file in data_dir."
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the reverse proxies in front of the "
        "server: only requests from them may name the client (X-Forwarded-For) and the scheme "
        "(X-Forwarded-Proto). Empty by default: the connection's own address is the client.",
    )

    # Connections (per server process; see docs/reliability.md for what each costs)
    max_connections: int = Field(
        default=1024,
        ge=1,
        description="Open connections per process; at the limit a new one closes the one that "
        "has waited longest for a request, or is answered 503 if every one is busy. Lowered "
        "at start to what the descriptor limit (ulimit -n) allows after reserved_descriptors.",
    )
    reserved_descriptors: int = Field(
        default=256,
        ge=0,
        description="File descriptors kept out of the connection limit, for the database, "
        "model files, logs and outgoing image downloads.",
    )
    max_header_bytes: int = Field(
        default=32 * 1024,
        ge=1024,
        description="Request line and header fields together; a larger head is answered 431.",
    )
    max_header_count: int = Field(
        default=100, ge=1, description="Header fields in one request; more are answered 431."
    )
    max_url_bytes: int = Field(
        default=8 * 1024,
        ge=256,
        description="Request target (path and query); a longer one is answered 414. It counts "
        "towards max_header_bytes too.",
    )
    header_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time to send a request's line and headers, from the connection's start or "
        "the first byte of a following request; then 408, or a quiet close if nothing came.",
    )
    keep_alive_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long a connection may stay open with no request after an answer.",
    )

    # Images
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)
    body_read_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Time a client has to send the whole request body once the server starts "
        "reading it; a slower or stalled upload is answered 408, and its credits are released.",
    )
    return_image_memory_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=0,
        le=32 * 1024 * 1024,
        description="Allocations at least this large get memory of their own that is returned "
        "to the operating system when freed (glibc), so a burst of large images does not leave "
        "the server holding their memory; 0 leaves the C library's allocator as it is.",
    )
    url_connect_timeout: float = Field(default=5.0, gt=0)
    url_read_timeout: float = Field(default=10.0, gt=0)
    url_max_redirects: int = Field(default=3, ge=0)
    url_allow_list: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) or addresses that image URLs may reach even though they are "
        "loopback or private. Empty by default: only public addresses are fetched.",
    )

    # Engine
    queue_size: int = Field(
        default=64,
        ge=1,
        description="Images waiting for the model, beside the batch it works on, before 503.",
    )
    max_batch_size: int = Field(default=8, ge=1)
    max_batch_wait_ms: float = Field(default=2.0, ge=0)
    max_batch_gather_ms: float = Field(
        default=50.0,
        ge=0,
        description="How much longer a batch may wait for calls already under way (being "
        "uploaded, decoded, pre-processed) to join it, never more than a tenth of the last "
        "batch's model time; 0 turns it off.",
    )
    cache_size: int = Field(
        default=1024, ge=0, description="Captions kept by content hash; 0 disables."
    )
    inference_threads: int = Field(
        default=0,
        ge=0,
        description="Threads for the model; 0 = the cores this process may use (its CPU "
        "affinity and its container's CPU limit).",
    )
    prefill_runtime: Literal["onnx", "openvino"] = Field(
        default="onnx",
        description="What runs a full model's prefill (the image encoder and the prompt) on "
        "the onnx backend in int8: 'onnx' (int8), or 'openvino' (the 'openvino' extra; "
        "bfloat16, faster on CPUs with AMX; its captions differ from the int8 prefill's).",
    )
    full_model_spin_wait: bool = Field(
        default=False,
        description="Whether a full model's ONNX Runtime threads spin between the operators of "
        "a caption instead of sleeping (ONNX Runtime's own default): faster on cores the "
        "service has to itself and quiet, much slower when other work shares them.",
    )
    retry_after_seconds: int = Field(default=1, ge=1)

    # Models
    model: str = Field(
        default="auto",
        description="Which captioner serves: 'auto' (full_model when it is on this machine or "
        "can be downloaded, else the offline captioner), 'offline', a model-hub id, a local "
        "model folder, or the name of a folder in <data_dir>/models.",
    )
    offline_objects: bool = Field(
        default=True,
        description="Whether the offline captioner runs its object detector (people by their "
        "bodies, counts, relations); off, it names the picture from the ImageNet classifier "
        "and faces alone, a few milliseconds faster.",
    )
    read_text: bool = Field(
        default=True,
        description="Whether captions quote the words seen in pictures (signs, screenshots, "
        "pages) unless a request says read_text=false; needs the 'ocr' extra.",
    )
    full_model_reads_text: bool = Field(
        default=False,
        description="Whether a full captioning model's captions also quote the words read in "
        "pictures, by the offline captioner's reader run beside it (a few milliseconds per "
        "picture without text, a few hundred with).",
    )
    backend: BackendName = Field(
        default="auto",
        description="How a full model runs: 'onnx' (CPU; exported once, int8 if quantize), "
        "'openvino' (CPU, the 'openvino' extra; converted once, int8 weights if quantize: "
        "closer to float32 than onnx's int8, slower on AVX-512 cores) or 'torch' (CPU or GPU); "
        "'auto' picks torch when a CUDA GPU is present, else onnx, the fastest on CPUs measured.",
    )
    full_model: str = Field(
        default="microsoft/git-base-coco",
        description="The full model that model='auto' serves: a hub id or a folder.",
    )
    hub_timeout_seconds: float = Field(
        default=3.0, gt=0, description="Connect timeout for the model hub; no access falls back."
    )
    quantize: bool = Field(
        default=True,
        description="int8 for the onnx and openvino backends: about 3x faster on CPU than "
        "float32, captions can differ slightly from float32's (see the model docs).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="Where the torch backend runs; auto: a CUDA GPU if present."
    )
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="torch backend precision; auto: float16 on GPU, float32 on CPU."
    )

    translation_models: dict[str, str] = Field(
        default_factory=default_translation_models,
        description="Languages a full captioning model answers in besides English: a BCP 47 "
        "tag to the translation model (MarianMT or NLLB/M2M100: a hub id, a folder, or a "
        "translation folder written by 'models export') that translates its English caption. "
        "Only those on this machine serve ('imagecaption models pull --translations' fetches "
        "them); they are exported to ONNX once, like the caption model.",
    )
    translation_beams: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Beams for translating captions; 1 (greedy) is the fastest, the opus-mt "
        "models' own setting is 4.",
    )

    # Accounts
    plans: dict[str, Plan] = Field(default_factory=default_plans)
    default_plan: str = "free"
    reservation_ttl_seconds: int = Field(
        default=120, ge=1, description="A credit reservation not settled by then is released."
    )
    usage_warning_thresholds: list[float] = Field(default_factory=lambda: [0.8, 0.95])
    key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="A key's record is read at most this often per process; a revocation or "
        "plan change made elsewhere may take this long to apply (0: read it for every call).",
    )

    # Shared state
    redis_url: SecretStr | None = Field(
        default=None,
        description="redis:// URL shared by replicas for rate limits and the caption cache; "
        "unset, each process keeps its own.",
    )
    auto_migrate: bool = Field(
        default=False,
        description="Upgrade a PostgreSQL schema at start (under a lock). SQLite always upgrades.",
    )
    workers: int = Field(default=1, ge=1, description="Server processes sharing one port.")
    shared_cache_ttl_seconds: int = Field(
        default=86_400, ge=1, description="How long a caption stays in the shared cache."
    )

    # Batch jobs (POST /v1/imagecaption/jobs; docs/replicas.md says how they spread)
    job_max_images: int = Field(default=10_000, ge=1, description="Images in one job, at most.")
    job_workers: int = Field(
        default=2,
        ge=0,
        description="Queue workers per process that caption job images, one image each at a "
        "time; 0 leaves this process's workers out (it still takes and answers jobs).",
    )
    job_quiet_ms: float = Field(
        default=100.0,
        ge=0,
        description="A job image goes to the model once calls have left it alone this long; "
        "under steady calls, jobs get job_min_images_per_second instead, so that calls keep "
        "their latency.",
    )
    job_min_images_per_second: float = Field(
        default=4.0,
        gt=0,
        description="The share of the model that jobs keep while calls never stop, per process.",
    )
    job_chunk_size: int = Field(
        default=8, ge=1, description="Images a worker claims at once from the fairest job."
    )
    job_lease_seconds: int = Field(
        default=60,
        ge=1,
        description="How long claimed images are a worker's; a replica that dies holding them "
        "loses them to another once this has passed.",
    )
    job_sweep_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often each process looks for lost work and webhooks that are due.",
    )
    job_callback_backoff_seconds: float = Field(
        default=10.0, gt=0, description="Wait before a failed webhook's first retry; doubles."
    )
    job_callback_max_backoff_seconds: float = Field(
        default=3600.0, gt=0, description="The longest wait between two webhook attempts."
    )
    job_callback_retry_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="How long after a job ends its webhook is retried before it is given up.",
    )
    job_callback_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Connect and read timeout of one webhook attempt."
    )
    job_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="How long a finished job and its results are kept; then they are deleted "
        "and reading the job answers 404.",
    )

    # Web UI
    admin_token: SecretStr | None = Field(
        default=None,
        description="Token that opens the operator pages at /admin; unset, they answer 404.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Keys the web pages' CSRF tokens; when unset, one is generated and kept in "
        "data_dir so that open pages and sessions survive a restart.",
    )
    sign_in_attempts_per_minute: int = Field(
        default=5,
        ge=1,
        description="Failed web sign-ins allowed per client address per minute, counted apart "
        "for key sign-ins and operator sign-ins.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("translation_models")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        import langcodes

        for tag in value:
            if not langcodes.tag_is_valid(tag) or tag == "en":
                raise ValueError(f"{tag!r} is not a BCP 47 language tag other than en")
        return value

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'imagecaption.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; flags that were not given (None) do not override lower layers."""
    if config_file is not None:
        os.environ[CONFIG_ENV] = str(config_file)
    given = {name: value for name, value in overrides.items() if value is not None}
    return Settings(**given)
