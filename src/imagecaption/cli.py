"""The ``imagecaption`` command: serve, operate accounts, caption local files."""

from __future__ import annotations

import contextlib
import errno
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from imagecaption.settings import BackendName, Settings, load_settings

if TYPE_CHECKING:
    from imagecaption.accounts.store import AccountStore
    from imagecaption.jobs.store import JobRecord, SqlJobStore

# Plain help rather than Rich's tables, which label every flag "<bool>" although a flag takes
# no value; the plain layout shows types only for options that take one.
_PLAIN: dict[str, Any] = {"no_args_is_help": True, "rich_markup_mode": None}
app = typer.Typer(help="Self-hosted, drop-in compatible image captioning API.", **_PLAIN)
keys_app = typer.Typer(help="Create, list and revoke API keys.", **_PLAIN)
credits_app = typer.Typer(help="Change a key's credits.", **_PLAIN)
models_app = typer.Typer(help="Captioning models.", **_PLAIN)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(models_app, name="models")
db_app = typer.Typer(help="The account database's schema.", **_PLAIN)
app.add_typer(db_app, name="db")
jobs_app = typer.Typer(help="Batch jobs of every key, for operators.", **_PLAIN)
app.add_typer(jobs_app, name="jobs")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file.", envvar="IMAGECAPTION_CONFIG")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database and model cache live.")
]
# What a data folder that cannot be written fails with: named for the operator, not thrown.
_STORAGE_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM})
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="auto (the full model if available, else offline), offline, a model-hub id, "
        "or a model folder."
    ),
]
BackendOption = Annotated[
    BackendName | None,
    typer.Option(
        help="How a full model runs: onnx (CPU, int8), openvino (CPU, int8 weights; the "
        "openvino extra) or torch (CPU or GPU)."
    ),
]


KeyIdArgument = Annotated[
    str, typer.Argument(metavar="KEY_ID", help="The key's public id, as 'keys list' shows it.")
]
_DEFAULTS = Settings.model_fields


def _key_id(given: str) -> str:
    """Commands take a key's public id; a whole key pasted instead is named for what it is, with
    the id to pass, and never echoed (its secret part stays off the terminal and the logs)."""
    from imagecaption.accounts.keys import parse_key
    from imagecaption.errors import Unauthorized

    try:
        key_id = parse_key(given.strip())
    except Unauthorized:
        return given
    _fail(
        f"that is a whole API key; pass the key's id instead: {key_id} "
        "(the part after 'ick-', as 'keys list' shows it)"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _settings(config: Path | None, data_dir: Path | None, **overrides: Any) -> Settings:
    return load_settings(config, data_dir=data_dir, **overrides)


@contextlib.contextmanager
def _storage_named(settings: Settings) -> Iterator[None]:
    """A data folder or account database that cannot be used ends the command with a line or
    two that name it, the cause and what to do, and exit 1: never a traceback."""
    from imagecaption.accounts.database import DatabaseUnavailable, DriverMissing
    from imagecaption.storage import StorageUnusable, describe_database_fault, folder_fault

    try:
        yield
    except (StorageUnusable, DriverMissing) as error:
        _fail(str(error))
    except DatabaseUnavailable as error:
        _fail(describe_database_fault(error, settings.resolved_database_url))
    except OSError as error:
        if error.errno not in _STORAGE_ERRNOS or error.filename is None:
            raise
        _fail(folder_fault(Path(error.filename), error))


@contextlib.contextmanager
def _open_store(config: Path | None, data_dir: Path | None) -> Iterator[AccountStore]:
    """The account store for one command; its refusals become a one-line error and exit 1."""
    from imagecaption.accounts.database import DatabaseUnavailable
    from imagecaption.accounts.sql_store import SqlAccountStore
    from imagecaption.errors import ServiceError

    settings = _settings(config, data_dir)
    with _storage_named(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = SqlAccountStore(
            settings.resolved_database_url,
            settings.plans,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            warning_thresholds=settings.usage_warning_thresholds,
        )
        try:
            yield store
        except DatabaseUnavailable:
            raise  # named by _storage_named
        except ServiceError as error:
            _fail(error.message)
        finally:
            store.close()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help=f"Address to listen on [default: {_DEFAULTS['host'].default}, or the host "
            "setting]; 0.0.0.0 for every interface."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help=f"Port to listen on [default: {_DEFAULTS['port'].default}, or the port setting]."
        ),
    ] = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    migrate: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate", help="Upgrade an outdated PostgreSQL schema at start."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes sharing the port.")
    ] = None,
) -> None:
    """Start the API server."""
    import uvicorn

    from imagecaption.accounts.schema import SchemaOutdated, prepare_schema
    from imagecaption.api.app import create_app
    from imagecaption.observability.logging import configure_logging
    from imagecaption.storage import check_writable

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "model": model,
        "backend": backend,
        "auto_migrate": migrate,
        "workers": workers,
        "data_dir": data_dir,
    }
    settings = _settings(config, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    _check_model(settings)
    with _storage_named(settings):
        check_writable(settings.data_dir)
        try:
            prepare_schema(settings.resolved_database_url, migrate=settings.auto_migrate)
        except SchemaOutdated as error:
            _fail(str(error))
    from imagecaption.api.connections import DescriptorLimitTooLow
    from imagecaption.api.workers import run_workers, server_options

    try:
        if settings.workers > 1:
            run_workers(settings, overrides)
            return
        options = server_options(settings)
    except DescriptorLimitTooLow as error:
        _fail(str(error))
    uvicorn.run(create_app(settings), **options)


@keys_app.command("create")
def keys_create(
    plan: Annotated[
        str | None, typer.Option(help="Plan name, e.g. free, starter, pro, mega.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a key and print it (only the key, once: it is stored hashed)."""
    chosen = plan or _settings(config, data_dir).default_plan
    with _open_store(config, data_dir) as store:
        secret, record = store.create_key(chosen, name)
    typer.echo(secret)
    typer.echo(f"created key {record.id} on plan {record.plan}", err=True)


def _key_row(record: Any) -> dict[str, Any]:
    row = asdict(record)
    for field in ("period_start", "renews_at", "created_at"):
        row[field] = row[field].isoformat()
    return row


@keys_app.command("list")
def keys_list(
    config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """List keys with plan, balance and state (never the secret)."""
    with _open_store(config, data_dir) as store:
        records = store.list_keys()
    if as_json:
        typer.echo(json.dumps([_key_row(r) for r in records], indent=2))
        return
    typer.echo(
        f"{'ID':<14} {'PLAN':<8} {'BALANCE':>10} {'USED':>10} {'RENEWS':<10} {'STATE':<8} NAME"
    )
    for r in records:
        state = "revoked" if r.revoked else "active"
        typer.echo(
            f"{r.id:<14} {r.plan:<8} {r.balance:>10} {r.used:>10} "
            f"{r.renews_at.date().isoformat():<10} {state:<8} {r.name or ''}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: KeyIdArgument, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Revoke a key by its id; calls with it get 401 at once."""
    key_id = _key_id(key_id)
    with _open_store(config, data_dir) as store:
        if store.get_key(key_id).revoked:
            typer.echo(f"{key_id} was already revoked; nothing changed")
            return
        record = store.revoke(key_id)
    typer.echo(f"revoked {record.id}")


@keys_app.command("set-plan")
def keys_set_plan(
    key_id: KeyIdArgument, plan: str, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Move a key to another plan."""
    key_id = _key_id(key_id)
    with _open_store(config, data_dir) as store:
        record = store.set_plan(key_id, plan)
    typer.echo(f"{record.id} is now on plan {record.plan}")


@credits_app.command("add")
def credits_add(
    key_id: KeyIdArgument,
    amount: int,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add credits to a key's balance for the current period."""
    key_id = _key_id(key_id)
    with _open_store(config, data_dir) as store:
        record = store.add_credits(key_id, amount)
    typer.echo(f"{record.id} balance: {record.balance}")


@app.command()
def usage(
    key_id: Annotated[str | None, typer.Option("--key", help="Only this key id.")] = None,
    days: Annotated[int, typer.Option(help="Look back this many days.")] = 30,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Usage report: calls, credits, statuses and latency (avg, p50, p75, p90, p99)."""
    key_id = None if key_id is None else _key_id(key_id)
    since = datetime.now(UTC) - timedelta(days=days)
    with _open_store(config, data_dir) as store:
        summary = store.usage(key_id, since)
        warnings = store.warnings(key_id)
    if as_json:
        report = asdict(summary)
        report["warnings"] = [
            {"key_id": w.key_id, "threshold": w.threshold, "at": w.at.isoformat()} for w in warnings
        ]
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    lat = summary.latency
    scope = f"key {key_id}" if key_id else "all keys"
    typer.echo(f"Usage for {scope}, last {_plural(days, 'day')}")
    typer.echo(
        f"  calls: {summary.calls}  charged: {summary.charged_calls}  credits: {summary.credits}"
    )
    typer.echo(
        "  by status: " + ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_status.items()))
    )
    if lat.count:
        typer.echo(
            f"  latency: avg: {lat.avg_ms:.0f}ms | p50: {lat.p50_ms:.0f}ms"
            f" | p75: {lat.p75_ms:.0f}ms | p90: {lat.p90_ms:.0f}ms | p99: {lat.p99_ms:.0f}ms"
            f"  ({lat.count} successful calls)"
        )
    for w in warnings:
        typer.echo(
            f"  warning: key {w.key_id} passed {w.threshold:.0%} of its credits"
            f" at {w.at:%Y-%m-%d %H:%M}"
        )


def _image_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


@app.command()
def caption(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders.", exists=True)],
    as_json: JsonOption = False,
    batch_size: Annotated[int, typer.Option(help="Images per model call.")] = 8,
    server: Annotated[
        str | None,
        typer.Option(help="A running service's URL: send the files to it as a job instead."),
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="The API key for --server.", envvar="IMAGECAPTION_KEY")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Caption local images, here or as a job on a running service (JSON lines with --json)."""
    from tqdm import tqdm

    files = list(_image_files(paths))
    progress = tqdm(total=len(files), unit="img", disable=len(files) < 2, file=sys.stderr)
    results: Iterable[tuple[Path, str | None, str | None]]
    if server is not None:
        results = _caption_on_server(files, server, key, progress.update)
    else:
        results = _caption_here(files, _settings(config, data_dir), batch_size)
    failures = 0
    for path, text, error in results:
        if server is None:
            progress.update(1)
        failures += error is not None
        if as_json:
            progress.write(
                json.dumps({"file": str(path), "caption": text, "error": error}), file=sys.stdout
            )
        else:
            progress.write(
                f"{path}: {text if error is None else 'error: ' + error}", file=sys.stdout
            )
    progress.close()
    if failures:
        raise typer.Exit(2)


def _caption_here(
    files: list[Path], settings: Settings, batch_size: int
) -> Iterator[tuple[Path, str | None, str | None]]:
    from imagecaption.captioning import caption_files
    from imagecaption.models.registry import create_captioner

    captioner = create_captioner(settings)
    captioner.load()
    return caption_files(
        captioner, files, settings.max_pixels, batch_size, read_text=settings.read_text
    )


def _caption_on_server(
    files: list[Path], server: str, key: str | None, on_progress: Any
) -> list[tuple[Path, str | None, str | None]]:
    from imagecaption.jobs.client import JobClientError, caption_with_server

    if not key:
        _fail("--server needs --key (or IMAGECAPTION_KEY).")
    try:
        results = caption_with_server(files, server, key, on_progress=on_progress)
    except JobClientError as error:
        _fail(str(error))
    return [(result.path, result.caption, result.error) for result in results]


@contextlib.contextmanager
def _open_job_store(config: Path | None, data_dir: Path | None) -> Iterator[SqlJobStore]:
    """The job store for one command, on a database the account store has opened (and, for
    SQLite, brought up to date); refusals end the command as ``_open_store`` says."""
    from imagecaption.jobs.service import job_store

    with _open_store(config, data_dir):
        store = job_store(_settings(config, data_dir))
        try:
            yield store
        finally:
            store.close()


def _job_row(job: JobRecord) -> dict[str, Any]:
    return job.described() | {"key_id": job.key_id}


JobIdArgument = Annotated[str, typer.Argument(metavar="JOB_ID", help="The job's id.")]


@jobs_app.command("list")
def jobs_list(
    key_id: Annotated[str | None, typer.Option("--key", help="Only this key id.")] = None,
    limit: Annotated[int, typer.Option(help="The newest this many.")] = 50,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Jobs of every key (or one), newest first, with their progress."""
    with _open_job_store(config, data_dir) as store:
        records = store.list_jobs(key_id, limit)
    if as_json:
        typer.echo(json.dumps([_job_row(job) for job in records], indent=2))
        return
    typer.echo(f"{'JOB':<32}  {'KEY':<10} {'STATUS':<9} {'DONE':>6} {'FAILED':>6} {'TOTAL':>6}")
    for job in records:
        typer.echo(
            f"{job.id:<32}  {job.key_id:<10} {job.status:<9} {job.succeeded:>6} "
            f"{job.failed:>6} {job.total:>6}"
        )


@jobs_app.command("show")
def jobs_show(
    job_id: JobIdArgument, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """One job's summary and its webhook's state, as JSON."""
    with _open_job_store(config, data_dir) as store:
        job = store.get(job_id)
    row = _job_row(job) | {"callback_url": job.callback_url}
    typer.echo(json.dumps(row, indent=2, default=str))


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: JobIdArgument, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Cancel a job's images that have not started; they are refunded."""
    with _open_job_store(config, data_dir) as store:
        job = store.cancel(job_id)
    typer.echo(f"{job.id} is {job.status}: {job.cancelled} images cancelled")


def _check_model(settings: Settings) -> None:
    """A named model that cannot serve stops the command here, with the reason, not later."""
    from imagecaption.models.base import ModelError
    from imagecaption.models.registry import check_model

    try:
        check_model(settings)
    except ModelError as error:
        _fail(str(error))


@models_app.command("list")
def models_list(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Models on this machine (hub cache and model folders), and which one serve would use.

    Decided without the network: with --model auto, a full model that is not downloaded yet is
    reported as a fallback, although serve would first try to download it.
    """
    from imagecaption.models.listing import describe_models

    listing = describe_models(_settings(config, data_dir, model=model))
    if as_json:
        typer.echo(json.dumps(listing.as_dict(), indent=2))
        return
    typer.echo(f"serving: {listing.serving}")
    typer.echo(f"languages: {', '.join(listing.languages)}")
    if listing.fallback:
        typer.echo(f"fallback: {listing.fallback}")
    typer.echo(f"  {'NAME':<36} {'SOURCE':<10} {'TYPE':<24} PATH")
    for row in listing.models:
        mark = "*" if row.serving else " "
        typer.echo(f"{mark} {row.name:<36} {row.source:<10} {row.model_type:<24} {row.path}")


@models_app.command("pull")
def models_pull(
    source: Annotated[
        str | None, typer.Argument(help="A model-hub id, or a model folder to import.")
    ] = None,
    translations: Annotated[
        bool,
        typer.Option("--translations", help="Pull every translation model in translation_models."),
    ] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Download a model into the hub cache (progress on stderr), or import a model folder into
    <data_dir>/models; either way check it, then print where it is."""
    from imagecaption.models.base import ModelError
    from imagecaption.models.listing import pull, pull_translations

    if (source is None) == (not translations):
        _fail("Name a model to pull, or pass --translations (not both).")
    settings = _settings(config, data_dir)
    try:
        folders = pull_translations(settings) if source is None else [pull(source, settings)]
    except ModelError as error:
        _fail(str(error))
    for folder in folders:
        typer.echo(str(folder))


@models_app.command("export")
def models_export(
    source: Annotated[str, typer.Argument(help="A model-hub id, or a model folder.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write (must not exist).")],
    quantize: Annotated[
        bool, typer.Option("--quantize/--no-quantize", help="int8 (default) or float32 graphs.")
    ] = True,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export a model once (needs the models extra) into a folder that the base install serves
    with ONNX Runtime alone: serve --model DIR --backend onnx. Prints the folder."""
    from imagecaption.models.base import ModelError
    from imagecaption.models.registry import models_extra_installed

    if not models_extra_installed():
        _fail("Exporting a model needs the 'models' extra: pip install 'imagecaption[models]'.")
    from imagecaption.models.hf.export import export_model

    try:
        folder = export_model(source, out, quantize, _settings(config, data_dir))
    except ModelError as error:
        _fail(str(error))
    typer.echo(str(folder))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply the schema migrations this version ships (safe while other servers run)."""
    from imagecaption.accounts.schema import schema_revisions, upgrade_database

    settings = _settings(config, data_dir)
    with _storage_named(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(settings.resolved_database_url)
        current, _ = schema_revisions(settings.resolved_database_url)
    typer.echo(f"schema at {', '.join(sorted(current))}")


@db_app.command("current")
def db_current(
    config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """Show the schema revision; exit 1 when it is behind this version."""
    from imagecaption.accounts.schema import schema_revisions

    settings = _settings(config, data_dir)
    with _storage_named(settings):
        current, shipped = schema_revisions(settings.resolved_database_url)
    up_to_date = current == shipped
    if as_json:
        typer.echo(
            json.dumps(
                {"current": sorted(current), "head": sorted(shipped), "up_to_date": up_to_date}
            )
        )
    else:
        state = "up to date" if up_to_date else "outdated: run 'imagecaption db upgrade'"
        typer.echo(
            f"current: {', '.join(sorted(current)) or 'none'}; "
            f"head: {', '.join(sorted(shipped))}; {state}"
        )
    if not up_to_date:
        raise typer.Exit(1)


def main() -> None:
    app()
