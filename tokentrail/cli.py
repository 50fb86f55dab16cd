"""The ``tokentrail`` command line (click).

Every command that touches the store takes the same ``--data DIR`` /
``--clickhouse DSN`` options; flags win over ``TOKENTRAIL_*`` environment variables,
which win over defaults (see :mod:`tokentrail.settings`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

import tokentrail
from tokentrail.settings import Settings, is_loopback, load_settings


def store_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--data`` / ``--clickhouse``, shared by every command that opens the store."""

    @click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Embedded store directory [env TOKENTRAIL_DATA; default: "
                       "the user data dir, e.g. ~/.local/share/tokentrail/data].")
    @click.option("--clickhouse", "clickhouse", metavar="DSN", default=None,
                  help="Use a ClickHouse server instead, e.g. http://user:pw@host:8123 "
                       "[env TOKENTRAIL_CLICKHOUSE].")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def _settings(**flags: Any) -> Settings:
    try:
        return load_settings(**flags)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise click.UsageError(f"invalid setting ({problems})") from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(tokentrail.__version__, prog_name="tokentrail")
def cli() -> None:
    """tokentrail: where the tokens of your Claude agents go, and why the cache misses."""


@cli.command()
@store_options
@click.option("--host", default=None, help="Bind address [env TOKENTRAIL_HOST; 127.0.0.1]. "
              "Anything beyond loopback needs TOKENTRAIL_INGEST_TOKEN, TOKENTRAIL_UI_TOKEN and "
              "TOKENTRAIL_SQL_TOKEN.")
@click.option("--otlp-http-port", type=int, default=None,
              help="OTLP/HTTP receiver port [env TOKENTRAIL_OTLP_HTTP_PORT; 4318].")
@click.option("--otlp-grpc-port", type=int, default=None,
              help="OTLP/gRPC receiver port [env TOKENTRAIL_OTLP_GRPC_PORT; 4317].")
@click.option("--ui-port", type=int, default=None,
              help="Web UI port [env TOKENTRAIL_UI_PORT; 8765].")
@click.option("--sql-port", type=int, default=None,
              help="ClickHouse HTTP interface of the embedded store, read-only "
                   "[env TOKENTRAIL_SQL_PORT; 8123; 0 turns it off].")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default=None, help="[env TOKENTRAIL_LOG_LEVEL; info]")
@click.option("--no-ui", "no_ui", is_flag=True,
              help="Run only the collector (OTLP receivers and writer): a split deployment "
                   "scales these out against one ClickHouse (deploy/README.md).")
@click.option("--no-collector", "no_collector", is_flag=True,
              help="Run only the web UI (and the SQL interface of an embedded store).")
def serve(no_ui: bool, no_collector: bool, **flags: Any) -> None:
    """Run the OTLP collector and the web UI on one store (embedded by default).

    Point instrumented agents at http://127.0.0.1:4318 (OTEL_EXPORTER_OTLP_ENDPOINT)
    and open http://127.0.0.1:8765; query the store live with any ClickHouse client
    at http://127.0.0.1:8123. Stops cleanly on Ctrl-C / SIGTERM after
    committing everything it acknowledged.

    With --clickhouse http(s)://… and --no-ui / --no-collector, each part runs as a
    process of its own; several collectors may write one server (deploy/README.md).
    """
    settings = _settings(**flags)
    from tokentrail.server import serves_sql

    if no_ui and no_collector and not serves_sql(settings):
        raise click.UsageError("--no-ui and --no-collector leave nothing to serve (with "
                               "both, an embedded store serves only its SQL interface)")
    problems = settings.exposure_problems(ui=not no_ui, collector=not no_collector)
    if problems:
        raise click.UsageError("refusing to start: " + "; ".join(problems))
    _setup_logging(settings.log_level)
    from tokentrail.server import run
    from tokentrail.store import StoreError

    try:
        code = asyncio.run(run(settings, ui=not no_ui, collector=not no_collector))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@cli.command()
@store_options
@click.option("--cluster", metavar="NAME", default=None,
              help="Render ReplicatedMergeTree tables ON CLUSTER NAME plus Distributed "
                   "tables over them.")
@click.option("--apply", "apply_", is_flag=True,
              help="Apply the DDL to the store instead of printing it.")
def schema(data: Path | None, clickhouse: str | None, cluster: str | None,
           apply_: bool) -> None:
    """Print (or --apply) the store's DDL: raw OpenTelemetry tables and llm_calls.

    --apply runs the migrations the store has not recorded yet (an older store is
    upgraded, keeping its rows); with --cluster, ON CLUSTER NAME.

    The raw tables are column-compatible with the OpenTelemetry Collector's
    ClickHouse exporter, so a stock Collector can write into them.
    """
    from tokentrail.store import Store, StoreError, migrations

    if not apply_:
        click.echo(migrations.render(cluster), nl=False)
        return
    settings = _settings(data=data, clickhouse=clickhouse)
    try:
        store = Store.open(settings.dsn, migrate=False)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        try:
            applied = store.migrate(cluster)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
        where = f" on cluster {cluster}" if cluster else ""
        click.echo(f"schema at version {store.schema_version()}{where}"
                   + (f" (applied {applied})" if applied else " (up to date)"))
    finally:
        store.close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", type=int, default=8099, show_default=True, help="Port.")
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Scenario JSON deciding the replies (see emulator/README.md).")
@click.option("--default-min-cache-tokens", type=int, default=None,
              help="Minimum cacheable prefix for models docs/facts.md does not list.")
@click.option("--batch-delay", type=float, default=None,
              help="Seconds before a Message Batch item is processed.")
@click.option("--no-auth", is_flag=True, help="Accept requests without an API key.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
def emulator(host: str, port: int, scenario: Path | None, default_min_cache_tokens: int | None,
             batch_delay: float | None, no_auth: bool, log_level: str) -> None:
    """Run the Anthropic Messages API emulator (free, offline, faithful prompt cache).

    Point the anthropic SDK (base_url) or Claude Code (ANTHROPIC_BASE_URL) at
    http://127.0.0.1:8099 with any API key.
    """
    from tokentrail.emulator import serve as serve_emulator

    options: dict[str, Any] = {"require_api_key": not no_auth}
    if default_min_cache_tokens is not None:
        options["default_min_cacheable_tokens"] = default_min_cache_tokens
    if batch_delay is not None:
        options["batch_delay"] = batch_delay
    if not is_loopback(host):
        click.echo(f"warning: the emulator on {host} is reachable from other machines; it "
                   "holds no secrets but serves anyone", err=True)
    serve_emulator(host=host, port=port, scenario=scenario, log_level=log_level, **options)


@cli.command()
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's store in DIR [default: a temporary directory, deleted "
                   "when the demo ends].")
@click.option("--ui-port", type=int, default=None,
              help="Web UI port [8765, or a free one if taken; 0: any free port].")
@click.option("--otlp-http-port", type=int, default=None,
              help="OTLP/HTTP port [4318, or a free one if taken; 0: any free port].")
@click.option("--sql-port", type=int, default=None,
              help="SQL interface port [8123, or a free one if taken; 0: any free port].")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the UI in a browser, when there is a graphical one.")
@click.option("--keep-running/--exit", "keep_running", default=True, show_default=True,
              help="Keep serving after the agents finish (until Ctrl-C), or stop and exit.")
@click.option("--json", "as_json", is_flag=True,
              help="End with one JSON line: the UI address, the run ids, calls, seconds.")
def demo(data: Path | None, ui_port: int | None, otlp_http_port: int | None,
         sql_port: int | None, open_browser: bool, keep_running: bool, as_json: bool) -> None:
    """See tokentrail work, with no API key: serve, the emulator, and agents that show
    each kind of cache miss and saving.

    Starts `tokentrail serve` on a throw-away store and the Anthropic API emulator, runs
    ten agents through the real anthropic SDK with `import tokentrail.auto` (each named
    for what it teaches), and prints the UI's address and what to look at first. Takes
    under a minute. Needs `pip install 'tokentrail[demo]'`.
    """
    import signal

    from tokentrail.demo.runner import DemoError, DemoOptions, result_json, run_demo

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # stop serve, clean up (also when a
        signal.signal(signum, interrupted)  # shell started the demo with SIGINT ignored)
    options = DemoOptions(data=data, ui_port=ui_port, otlp_http_port=otlp_http_port,
                          sql_port=sql_port, open_browser=open_browser,
                          keep_running=keep_running)
    try:
        result = run_demo(options, say=lambda line: click.echo(line))
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("tokentrail demo: stopped", err=True)
        return
    if as_json:
        click.echo(result_json(result))


@cli.command()
@store_options
@click.option("--endpoint", metavar="URL", default=None,
              help="The OTLP/HTTP traces endpoint to try [default: where tokentrail.auto "
                   "sends, from OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else "
                   "http://127.0.0.1:4318/v1/traces].")
def doctor(data: Path | None, clickhouse: str | None, endpoint: str | None) -> None:
    """Check the install and say what to fix: the store is writable, serve's ports are
    free (or serve is running), the anthropic SDK is a supported version, the exporter
    endpoint accepts traces. Exit code 1 when something is wrong."""
    from tokentrail.doctor import FAIL, report, run_checks

    checks = run_checks(_settings(data=data, clickhouse=clickhouse), endpoint)
    click.echo(report(checks), nl=False)
    if any(c.status == FAIL for c in checks):
        sys.exit(1)


@cli.group(name="import")
def import_() -> None:
    """Import data that other tools wrote to disk."""


@import_.command(name="claude-code")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@store_options
@click.option("--endpoint", metavar="URL", default=None,
              help="Send to a running `tokentrail serve` over OTLP/HTTP instead of opening "
                   "the store (e.g. http://127.0.0.1:4318); needed while serve owns the "
                   "embedded store.")
def import_claude_code(paths: tuple[Path, ...], data: Path | None, clickhouse: str | None,
                       endpoint: str | None) -> None:
    """Import Claude Code session transcripts (*.jsonl) into llm_calls.

    PATHS are transcript files or directories searched recursively; the default is
    ~/.claude/projects. Importing the same sessions again adds nothing.
    """
    from tokentrail.collector import claude_code_import as cci
    from tokentrail.store import Store, StoreError

    files: list[Path] = []
    for path in paths or (cci.DEFAULT_PATH,):
        try:
            files.extend(cci.transcript_files(path))
        except FileNotFoundError as exc:
            raise click.BadParameter(str(exc), param_hint="PATHS") from None
    if not files:
        raise click.ClickException("no *.jsonl transcripts found")
    store = None
    if endpoint:
        target = cci.OtlpTarget(endpoint, token=_settings().ingest_token)
    else:
        settings = _settings(data=data, clickhouse=clickhouse)
        try:
            store = Store.open(settings.dsn)
        except StoreError as exc:
            raise click.ClickException(
                f"{exc}\nWhile `tokentrail serve` runs, add --endpoint http://127.0.0.1:4318"
            ) from None
        target = cci.StoreTarget(store)
    total = sum(f.stat().st_size for f in files)
    try:
        with click.progressbar(length=total, label=f"Importing {len(files)} transcript(s)",
                               file=sys.stderr) as bar:
            result = cci.import_transcripts(files, target, on_progress=bar.update)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if store is not None:
            store.close()
    click.echo(f"{result.files} file(s), {result.calls_found} API call(s) found, "
               f"{result.calls_written} new")


@cli.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--limit", type=int, default=20, show_default=True,
              help="How many disagreeing calls to list.")
def prices(data: Path | None, clickhouse: str | None, as_json: bool, limit: int) -> None:
    """The prices in force, the stored models without a price, and the calls whose
    source reported a different cost.

    Prices are tokentrail's packaged table with your files on top: prices.csv in the
    data directory, then the file named by TOKENTRAIL_PRICES. They are loaded into the
    store now and at every start of `tokentrail serve`; llm_calls prices every call,
    old ones included, with them.
    """
    import json

    from tokentrail.analysis import price_report
    from tokentrail.analysis import prices as price_data
    from tokentrail.store import Store, StoreError

    settings = _settings(data=data, clickhouse=clickhouse)
    try:
        store = Store.open(settings.dsn)
    except StoreError as exc:
        hint = ("" if str(exc).startswith("bad price file") else
                "\nWhile `tokentrail serve` owns the embedded store, stop it first "
                "(it loads the price files itself when it starts).")
        raise click.ClickException(f"{exc}{hint}") from None
    try:
        files = price_data.override_files(settings.dsn, settings.prices)
        in_force = price_data.prices_in_force(store.client)
        unpriced = price_data.unpriced_models(store.client)
        total, worst = price_data.disagreements(store.client, limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"files": [str(f) for f in files], "prices": in_force,
                               "unpriced": unpriced, "disagreements": total,
                               "disagreeing_calls": worst}, default=str, indent=2))
    else:
        click.echo(price_report.report(in_force, unpriced, total, worst, files), nl=False)


def _range_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--since`` / ``--start`` / ``--end`` of ``insights`` and ``whatif``."""

    @click.option("--since", default="7d", show_default=True,
                  help="The last N minutes/hours/days/weeks (30m, 24h, 7d, 2w).")
    @click.option("--start", default=None, help="Range start, ISO 8601 (UTC if no zone).")
    @click.option("--end", default=None, help="Range end, ISO 8601 [default: now].")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def _open_for_analysis(data: Path | None, clickhouse: str | None) -> Any:
    from tokentrail.store import Store, StoreError

    settings = _settings(data=data, clickhouse=clickhouse)
    try:
        return Store.open(settings.dsn)
    except StoreError as exc:
        raise click.ClickException(
            f"{exc}\nWhile `tokentrail serve` owns the embedded store, ask it through its "
            "SQL interface instead: --clickhouse http://127.0.0.1:8123") from None


@cli.command()
@store_options
@_range_options
@click.option("--kind", "kinds", multiple=True, help="Only this kind (repeatable).")
@click.option("--limit", type=int, default=10, show_default=True, help="Top N findings.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def insights(data: Path | None, clickhouse: str | None, since: str, start: str | None,
             end: str | None, kinds: tuple[str, ...], limit: int, as_json: bool) -> None:
    """The top findings by savings for a time range, with the run ids to look at.

    Each finding's savings re-price the same calls under its fix (README, "Insights").
    """
    import json

    from tokentrail.analysis import insights as ins
    from tokentrail.analysis import insights_report as report

    unknown = set(kinds) - set(ins.KINDS)
    if unknown:
        raise click.UsageError(f"unknown kind(s) {', '.join(sorted(unknown))}; "
                               f"one of {', '.join(ins.KINDS)}")
    try:
        begin, stop = report.time_range(since, start, end)
    except report.RangeError as exc:
        raise click.UsageError(str(exc)) from None
    store = _open_for_analysis(data, clickhouse)
    try:
        rows = store.insights(begin, stop, kinds=kinds, limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=2))
    else:
        click.echo(report.findings_text(rows, begin, stop), nl=False)


@cli.command()
@store_options
@_range_options
@click.argument("scenario", type=click.Choice(
    ["batch", "model", "ttl_1h", "unread_writes", "cache_prefix", "cache_messages",
     "compaction", "dead_weight"]))
@click.option("--run", default="", help="Only this run.")
@click.option("--service", default="", help="Only this service.")
@click.option("--only-model", default="", help="Only the calls on this model.")
@click.option("--only-candidates", is_flag=True,
              help="Only the calls the rule of the scenario's kind counts (an insight's "
                   "calls: with its --service or --run and --only-model, its numbers).")
@click.option("--model", "model", default=None,
              help="For `model`: the model to re-price on [default: claude-haiku-4-5].")
@click.option("--compact-above", type=int, default=None,
              help="For `compaction`: compact once a call's input exceeds N tokens.")
@click.option("--compact-to", type=int, default=None,
              help="For `compaction`: the summary's length in tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def whatif(data: Path | None, clickhouse: str | None, since: str, start: str | None,
           end: str | None, scenario: str, run: str, service: str, only_model: str,
           only_candidates: bool, model: str | None, compact_above: int | None,
           compact_to: int | None, as_json: bool) -> None:
    """Re-price a run (--run), a service (--service) or the fleet under SCENARIO:
    batch, model, ttl_1h, unread_writes, cache_prefix, cache_messages, compaction or
    dead_weight."""
    import json

    from tokentrail.analysis import insights_report as report
    from tokentrail.analysis.whatif import SCENARIOS

    try:
        begin, stop = report.time_range(since, start, end)
    except report.RangeError as exc:
        raise click.UsageError(str(exc)) from None
    store = _open_for_analysis(data, clickhouse)
    try:
        result = store.whatif(scenario, begin, stop, run=run, service=service,
                              only_model=only_model, only_candidates=only_candidates,
                              routing_model=model, compact_above=compact_above,
                              compact_to=compact_to)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result, default=str, indent=2))
    else:
        scope = f"run {run}" if run else f"service {service}" if service else "fleet"
        scope += f", model {only_model}" if only_model else ""
        scope += ", only the rule's calls" if only_candidates else ""
        click.echo(report.whatif_text(result, SCENARIOS[scenario][1], begin, stop, scope),
                   nl=False)


@cli.command()
@store_options
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def explain(data: Path | None, clickhouse: str | None, run_id: str, as_json: bool) -> None:
    """A run's turns with its cache events inline: why the cache missed, where the
    prefix changed, and what it cost (README, "Why the cache missed")."""
    import dataclasses
    import json

    from tokentrail.analysis.cache_events_explain import explain as explain_text

    store = _open_for_analysis(data, clickhouse)
    try:
        calls = store.cache_run_calls(run_id)
        summary = store.cache_summary(run_id) if calls else None
        events = store.cache_events(run_id) if calls else []
    finally:
        store.close()
    if not calls:
        raise click.ClickException(f"no run {run_id!r} in the store")
    if as_json:
        click.echo(json.dumps({"summary": dataclasses.asdict(summary), "events": events},
                              default=str, indent=2))
    else:
        click.echo(explain_text(run_id, calls, summary, events), nl=False)


def main() -> None:  # pragma: no cover - console-script convenience
    cli()
