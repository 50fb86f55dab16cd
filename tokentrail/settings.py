"""The one settings object of the tokentrail server side.

Precedence, highest first: command-line flags (passed as keyword arguments), then
``TOKENTRAIL_*`` environment variables, then defaults. pydantic-settings does the
env parsing and validation, so a bad value fails at start with the variable's name.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Under the user's data directory (e.g. ``~/.local/share/tokentrail/data``)."""
    return Path(platformdirs.user_data_dir("tokentrail")) / "data"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Knobs of ``tokentrail serve`` and the commands that touch the store."""

    model_config = SettingsConfigDict(env_prefix="TOKENTRAIL_", extra="ignore")

    data: Path = Field(default_factory=default_data_dir,
                       description="Data directory of the embedded (chDB) store.")
    clickhouse: str | None = Field(
        default=None, description="ClickHouse server DSN (http(s)://...); overrides --data."
    )
    host: str = Field(default="127.0.0.1", description="Address the servers bind to.")
    otlp_http_port: int = Field(default=4318, ge=0, le=65535)
    otlp_grpc_port: int = Field(default=4317, ge=0, le=65535)
    ui_port: int = Field(default=8765, ge=0, le=65535)
    ingest_token: str | None = Field(
        default=None, description="Bearer token required on OTLP requests."
    )
    ui_token: str | None = Field(default=None, description="Token required by the web UI.")
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0,
                                description="OTLP body limit, also after decompression.")
    batch_max_rows: int = Field(default=10_000, gt=0,
                                description="Insert when this many rows are queued...")
    batch_max_delay: float = Field(default=0.05, gt=0,
                                   description="...or when the oldest has waited this long (s).")
    queue_max_rows: int = Field(default=500_000, gt=0,
                                description="Refuse with 429 beyond this many queued rows.")
    max_in_flight: int = Field(default=64, gt=0,
                               description="Refuse with 429 beyond this many requests in "
                                           "progress (bounds request bodies in memory).")
    decode_workers: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1), ge=0,
        description="Processes decoding OTLP bodies (0: threads of the serving process).")
    log_level: str = Field(default="info")
    prices: Path | None = Field(
        default=None, description="A price file whose rows override or add to the packaged "
                                  "prices, after <data>/prices.csv (README, 'Cost').")

    # The SQL interface: ClickHouse's HTTP interface for the embedded store.
    sql_port: int = Field(default=8123, ge=0, le=65535,
                          description="ClickHouse HTTP interface of the embedded store (0: off).")
    sql_token: str | None = Field(
        default=None, description="Password SQL clients must send (any user name); required "
                                  "beyond loopback and for the writable mode.")
    sql_writable: bool = Field(
        default=False, description="Let SQL clients write (split deployments only; needs "
                                   "TOKENTRAIL_SQL_TOKEN). Read-only otherwise.")
    sql_max_concurrent_queries: int = Field(
        default=4, gt=0, description="Refuse (503, Retry-After) beyond this many SQL queries.")
    sql_max_execution_time: float = Field(default=60.0, ge=0,
                                          description="Per-query time limit, seconds (0: none).")
    sql_max_memory_usage: int = Field(default=1 << 30, ge=0,
                                      description="Per-query memory limit, bytes (0: none).")
    sql_max_threads: int = Field(default=1, ge=0,
                                 description="Engine threads per SQL query (0: the engine's).")
    sql_max_result_bytes: int = Field(
        default=128 << 20, ge=0, description="Result limit for output formats that are "
                                             "produced whole (JSON, Parquet...), bytes.")
    sql_max_body_bytes: int = Field(default=64 << 20, gt=0,
                                    description="SQL request body limit, bytes.")

    @field_validator("clickhouse")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("prices", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return value or None

    @property
    def dsn(self) -> str:
        """The store to use: the ClickHouse server if given, else the embedded store."""
        return self.clickhouse or f"chdb://{self.data.expanduser().resolve()}"

    def exposure_problems(self, *, ui: bool = True, collector: bool = True) -> list[str]:
        """Reasons this configuration must not start: servers reachable from other
        machines need a token, and so does the SQL interface's writable mode. ``ui`` /
        ``collector`` False: that server does not run here (serve --no-ui/--no-collector)."""
        problems = []
        if self.sql_writable and not self.sql_token:
            problems.append("TOKENTRAIL_SQL_WRITABLE lets SQL clients write: set "
                            "TOKENTRAIL_SQL_TOKEN")
        if is_loopback(self.host):
            return problems
        if collector and not self.ingest_token:
            problems.append(
                f"--host {self.host} exposes the OTLP receiver beyond this machine: "
                "set TOKENTRAIL_INGEST_TOKEN"
            )
        if ui and not self.ui_token:
            problems.append(
                f"--host {self.host} exposes the web UI beyond this machine: "
                "set TOKENTRAIL_UI_TOKEN"
            )
        if self.sql_port and not self.clickhouse and not self.sql_token:
            problems.append(
                f"--host {self.host} exposes the SQL interface beyond this machine: "
                "set TOKENTRAIL_SQL_TOKEN (or --sql-port 0)"
            )
        return problems


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with non-None ``overrides`` (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
