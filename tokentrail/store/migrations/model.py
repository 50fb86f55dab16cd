"""What a migration is at run time: frozen SQL text and named Python steps.

A migration ``N`` is the module ``mNNNN_<slug>.py`` beside two SQL files,
``mNNNN_<slug>.sql`` (one server / chDB) and ``mNNNN_<slug>.cluster.sql`` (a cluster;
:data:`CLUSTER_TOKEN` stands for the quoted cluster name). Only those files run, so a
migration does the same thing in every release, whatever the live definitions in
:mod:`tokentrail.store.schema` and :mod:`tokentrail.store.normalize` have become.

File format: statements end with ``;`` at the end of a line; ``--`` lines between
statements are comments, except ``-- python: NAME``, which runs the function ``NAME``
of the migration's module at that point (see :class:`PythonCall`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tokentrail.store.schema import quote_ident

CLUSTER_TOKEN = "`__CLUSTER__`"
"""Placeholder for the cluster's quoted identifier in ``*.cluster.sql`` (itself a valid
quoted identifier, so the frozen file parses as SQL)."""

PYTHON_MARKER = "-- python:"


@dataclass(frozen=True)
class PythonCall:
    """A step SQL cannot say (e.g. loading a data file): ``function(ctx)`` of the
    migration's module, called with a :class:`~tokentrail.store.migrations.runner.Context`.
    Like every step it must be idempotent: it runs again if the migration was interrupted.
    """

    function: str


Step = str | PythonCall


class MigrationFileError(ValueError):
    """A migration's files are malformed or disagree with each other."""


def parse_steps(text: str, *, source: str = "<sql>") -> tuple[Step, ...]:
    """Statements and Python calls of a frozen SQL file, in order."""
    steps: list[Step] = []
    buffer: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not buffer:
            if stripped.startswith(PYTHON_MARKER):
                name = stripped[len(PYTHON_MARKER):].strip()
                if not name.isidentifier():
                    raise MigrationFileError(f"{source}:{number}: bad python step {name!r}")
                steps.append(PythonCall(name))
                continue
            if not stripped or stripped.startswith("--"):
                continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).rstrip()[:-1].rstrip()
            steps.append(statement)
            buffer = []
    if buffer:
        raise MigrationFileError(f"{source}: the last statement does not end with ';'")
    return tuple(steps)


def format_steps(steps: tuple[Step, ...] | list[Step]) -> str:
    """The file text of ``steps`` (the inverse of :func:`parse_steps`)."""
    parts = []
    for step in steps:
        if isinstance(step, PythonCall):
            parts.append(f"{PYTHON_MARKER} {step.function}\n")
        else:
            parts.append(step.strip() + ";\n")
    return "\n".join(parts)


def checksum(single: tuple[Step, ...], cluster: tuple[Step, ...]) -> str:
    """SHA-256 of what a migration executes, in both renderings (comments and blank
    lines between statements do not count)."""
    digest = hashlib.sha256()
    for label, steps in (("single", single), ("cluster", cluster)):
        digest.update(f"\0{label}\0".encode())
        for step in steps:
            text = f"python:{step.function}" if isinstance(step, PythonCall) else step
            digest.update(text.encode() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Migration:
    """One schema version, as frozen in its files."""

    version: int
    name: str
    single: tuple[Step, ...]
    cluster: tuple[Step, ...]
    declared_checksum: str
    module: object = None  # has the Python steps as attributes (the migration's module)

    @property
    def checksum(self) -> str:
        return checksum(self.single, self.cluster)

    def steps(self, cluster: str | None = None) -> list[Step]:
        """The steps for one server (``cluster=None``) or for ``cluster``."""
        if cluster is None:
            return list(self.single)
        name = quote_ident(cluster)
        return [s if isinstance(s, PythonCall) else s.replace(CLUSTER_TOKEN, name)
                for s in self.cluster]

    def statements(self, cluster: str | None = None) -> list[str]:
        """The SQL statements only (Python steps left out)."""
        return [s for s in self.steps(cluster) if isinstance(s, str)]

    def python_function(self, call: PythonCall) -> Callable[[Any], None]:
        """The function a Python step calls (it takes a ``runner.Context``)."""
        function = getattr(self.module, call.function, None)
        if not callable(function):
            raise MigrationFileError(
                f"migration {self.version} calls python step {call.function!r}, which its "
                "module does not define")
        return function


def load_files(module: ModuleType, version: int) -> Migration:
    """Read the frozen SQL files of a migration module and check they agree."""
    path = Path(module.__file__ or "")
    single_path = path.with_suffix(".sql")
    cluster_path = path.with_suffix(".cluster.sql")
    try:
        single = parse_steps(single_path.read_text(encoding="utf-8"), source=single_path.name)
        cluster = parse_steps(cluster_path.read_text(encoding="utf-8"),
                              source=cluster_path.name)
    except FileNotFoundError as exc:
        raise MigrationFileError(
            f"migration {version} has no frozen SQL ({exc.filename}); run "
            f"`python -m tokentrail.store.migrations freeze {path.stem}`") from None
    calls_single = [s for s in single if isinstance(s, PythonCall)]
    calls_cluster = [s for s in cluster if isinstance(s, PythonCall)]
    if calls_single != calls_cluster:
        raise MigrationFileError(
            f"migration {version}: the single-server and cluster files call different "
            f"python steps ({calls_single} vs {calls_cluster})")
    name = getattr(module, "NAME", None)
    if not isinstance(name, str) or not name:
        raise MigrationFileError(f"{path.name} must define NAME, a one-line description")
    return Migration(version=version, name=name, single=single, cluster=cluster,
                     declared_checksum=str(getattr(module, "CHECKSUM", "")), module=module)
