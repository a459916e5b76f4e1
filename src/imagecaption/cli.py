"""The ``imagecaption`` command: serve, operate accounts, caption local files."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from imagecaption.settings import Settings, load_settings

app = typer.Typer(
    help="Self-hosted, drop-in compatible image captioning API.", no_args_is_help=True
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Change a key's credits.", no_args_is_help=True)
models_app = typer.Typer(help="Captioning models.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(models_app, name="models")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file.", envvar="IMAGECAPTION_CONFIG")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database and model cache live.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _settings(config: Path | None, data_dir: Path | None, **overrides: Any) -> Settings:
    return load_settings(config, data_dir=data_dir, **overrides)


def _store(settings: Settings) -> Any:
    from imagecaption.accounts.sql_store import SqlAccountStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqlAccountStore(
        settings.resolved_database_url,
        settings.plans,
        reservation_ttl_seconds=settings.reservation_ttl_seconds,
        warning_thresholds=settings.usage_warning_thresholds,
    )


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    model: Annotated[str | None, typer.Option(help="Captioner to serve.")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Start the API server."""
    import uvicorn

    from imagecaption.api.app import create_app
    from imagecaption.observability.logging import configure_logging

    settings = _settings(config, data_dir, host=host, port=port, model=model)
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
    )


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
    settings = _settings(config, data_dir)
    chosen = plan or settings.default_plan
    if chosen not in settings.plans:
        _fail(f"unknown plan {chosen!r}; plans: {', '.join(settings.plans)}")
    store = _store(settings)
    secret, record = store.create_key(chosen, name)
    store.close()
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
    store = _store(_settings(config, data_dir))
    records = store.list_keys()
    store.close()
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
def keys_revoke(key_id: str, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Revoke a key by its id; calls with it get 401 at once."""
    from imagecaption.errors import ServiceError

    store = _store(_settings(config, data_dir))
    try:
        record = store.revoke(key_id)
    except ServiceError as error:
        _fail(error.message)
    finally:
        store.close()
    typer.echo(f"revoked {record.id}")


@keys_app.command("set-plan")
def keys_set_plan(
    key_id: str, plan: str, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Move a key to another plan."""
    from imagecaption.errors import ServiceError

    store = _store(_settings(config, data_dir))
    try:
        record = store.set_plan(key_id, plan)
    except ServiceError as error:
        _fail(error.message)
    finally:
        store.close()
    typer.echo(f"{record.id} is now on plan {record.plan}")


@credits_app.command("add")
def credits_add(
    key_id: str, amount: int, config: ConfigOption = None, data_dir: DataDirOption = None
) -> None:
    """Add credits to a key's balance for the current period."""
    from imagecaption.errors import ServiceError

    store = _store(_settings(config, data_dir))
    try:
        record = store.add_credits(key_id, amount)
    except ServiceError as error:
        _fail(error.message)
    finally:
        store.close()
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
    store = _store(_settings(config, data_dir))
    since = datetime.now(UTC) - timedelta(days=days)
    summary = store.usage(key_id, since)
    warnings = store.warnings(key_id)
    store.close()
    if as_json:
        report = asdict(summary)
        report["warnings"] = [
            {"key_id": w.key_id, "threshold": w.threshold, "at": w.at.isoformat()} for w in warnings
        ]
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    lat = summary.latency
    scope = f"key {key_id}" if key_id else "all keys"
    typer.echo(f"Usage for {scope}, last {days} days")
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
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Caption local images without a server (JSON lines with --json)."""
    from tqdm import tqdm

    from imagecaption.captioning import caption_files
    from imagecaption.models.registry import create_captioner

    settings = _settings(config, data_dir)
    files = list(_image_files(paths))
    captioner = create_captioner(settings)
    captioner.load()
    progress = tqdm(total=len(files), unit="img", disable=len(files) < 2, file=sys.stderr)
    failures = 0
    for path, text, error in caption_files(captioner, files, settings.max_pixels, batch_size):
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


@models_app.command("list")
def models_list(
    config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """Show the captioners this installation can serve, and which one is configured."""
    from imagecaption.models.registry import BACKENDS

    settings = _settings(config, data_dir)
    rows = [{"name": name, "serving": name == settings.model} for name in BACKENDS]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{'*' if row['serving'] else ' '} {row['name']}")


def main() -> None:
    app()
