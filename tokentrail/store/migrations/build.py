"""Building blocks of a new migration, rendered once by ``freeze`` into its SQL files.

These functions read the *live* definitions (:mod:`tokentrail.store.schema`) and return
:class:`Piece` objects, each the same change rendered for one server and for a cluster.
A migration module's ``build()`` returns a list of them; ``python -m
tokentrail.store.migrations freeze mNNNN_slug`` writes them out. Nothing here runs
when a store is migrated: only the frozen files do, so later edits of the live
definitions never change a released migration.

Every piece is idempotent, so a migration built from them can be interrupted and run
again: ``IF NOT EXISTS`` for tables and columns, ``CREATE OR REPLACE`` for views,
``MODIFY QUERY`` for materialized views, anti-joined or replacing inserts for backfills.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tokentrail.store.migrations.model import CLUSTER_TOKEN, PythonCall, Step
from tokentrail.store.schema import MaterializedView, Table, View

_CLUSTER_NAME = CLUSTER_TOKEN.strip("`")  # renders back to CLUSTER_TOKEN when quoted


@dataclass(frozen=True)
class Piece:
    """One change, rendered for one server (``single``) and for a cluster."""

    single: tuple[Step, ...]
    cluster: tuple[Step, ...]


def _on(cluster: bool) -> str:
    return f" ON CLUSTER {CLUSTER_TOKEN}" if cluster else ""


def create(*objects: Table | MaterializedView | View) -> Piece:
    """Create new tables / materialized views / views (``IF NOT EXISTS``), as defined
    now. On a cluster a table is a Replicated ``<name>_local`` plus a Distributed
    ``<name>``; a materialized view goes from local table to local table."""
    return Piece(
        tuple(sql for obj in objects for sql in obj.ddl(None)),
        tuple(sql for obj in objects for sql in obj.ddl(_CLUSTER_NAME)),
    )


def add_columns(table: Table, *names: str) -> Piece:
    """Add the columns ``names`` of the live ``table`` (``ADD COLUMN IF NOT EXISTS``,
    at the end, in the given order). On a cluster both the local and the Distributed
    table get them. Rows already stored read the column's DEFAULT (or the type's zero);
    fill them with :func:`rederive` or :func:`backfill`."""
    definitions = table.column_definitions(names)

    def alter(target: str, cluster: bool) -> str:
        adds = ",\n    ".join(f"ADD COLUMN IF NOT EXISTS {d}" for d in definitions)
        return f"ALTER TABLE {target}{_on(cluster)}\n    {adds}"

    return Piece((alter(table.name, False),),
                 (alter(f"{table.name}_local", True), alter(table.name, True)))


def replace_view(view: View) -> Piece:
    """Re-create a plain view with its live SELECT (``CREATE OR REPLACE VIEW``). Do it
    also when only the columns of a table it reads with ``*`` changed."""
    def ddl(cluster: bool) -> str:
        return f"CREATE OR REPLACE VIEW {view.name}{_on(cluster)}\nAS {view.select.strip()}"

    return Piece((ddl(False),), (ddl(True),))


def replace_materialized_view(view: MaterializedView) -> Piece:
    """Give an existing materialized view its live SELECT (``ALTER TABLE … MODIFY
    QUERY``: atomic, no insert is missed meanwhile). Add the target's new columns
    first (:func:`add_columns`). Rows it wrote before keep their old values; use
    :func:`rederive` to recompute them. The target table itself cannot change this way:
    for a new target, create a new view and drop the old one with :func:`sql`."""
    def ddl(cluster: bool) -> str:
        name = _CLUSTER_NAME if cluster else None
        return f"ALTER TABLE {view.name}{_on(cluster)}\nMODIFY QUERY {view.query(name)}"

    return Piece((ddl(False),), (ddl(True),))


def rederive(view: MaterializedView) -> Piece:
    """Recompute everything ``view`` derives from its source table's existing rows
    with its live SELECT, inserting into its target again. Idempotent only because the
    target collapses rows with the same key (``ReplacingMergeTree``, read ``FINAL``):
    the recomputed row replaces the old one, and running it twice changes nothing. On a
    cluster it reads and writes the Distributed tables.

    A view with GROUP BY groups per insert when it runs as a view, but over the whole
    table here; that is the same only when its group key separates inserts (as the
    metrics view's ``TimeUnix`` does)."""
    columns = ", ".join(select_aliases(view.select))
    select = view.select.replace("{" + view.source + "}", view.source).strip()
    statement = f"INSERT INTO {view.target} ({columns})\n{select}"
    return Piece((statement,), (statement,))


def backfill(target: str, columns: Sequence[str], select: str, *, key: str) -> Piece:
    """Fill a derived table from existing data: insert the rows of ``select`` (whose
    columns are ``columns``, in order) whose ``key`` (an expression over ``columns``)
    ``target`` does not have yet. Idempotent whatever the engine, and safe beside a
    materialized view that already feeds ``target``: the rows it wrote are skipped.
    ``select`` reads tables by their plain names (the Distributed ones on a cluster)."""
    names = ", ".join(columns)

    # Rendered at freeze time from the developer's own SQL, never from input.
    def ddl(cluster: bool) -> str:
        in_ = "GLOBAL NOT IN" if cluster else "NOT IN"
        return (f"INSERT INTO {target} ({names})\nSELECT {names}\nFROM (\n"  # noqa: S608
                f"{select.strip()}\n)\nWHERE ({key}) {in_} (SELECT {key} FROM {target})")

    return Piece((ddl(False),), (ddl(True),))


def python_step(function: str) -> Piece:
    """Run ``function(ctx)`` of the migration's module here (ctx:
    :class:`~tokentrail.store.migrations.runner.Context`), for what SQL cannot say,
    e.g. loading a data file into a table. It must be idempotent and must not import
    live code that will change (copy what it needs into the migration's module or a
    frozen data file beside it)."""
    if not function.isidentifier():
        raise ValueError(f"python step {function!r} is not a function name")
    return Piece((PythonCall(function),), (PythonCall(function),))


def sql(single: str, cluster: str | None = None) -> Piece:
    """A statement written by hand; ``cluster`` is its cluster rendering (use
    ``model.CLUSTER_TOKEN`` for the cluster's name), the same text when omitted. It
    must be idempotent (``IF [NOT] EXISTS``, ``OR REPLACE``)."""
    return Piece((single.strip(),), ((cluster if cluster is not None else single).strip(),))


def render(pieces: Sequence[Piece]) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    """All pieces as (single-server steps, cluster steps)."""
    return (tuple(s for p in pieces for s in p.single),
            tuple(s for p in pieces for s in p.cluster))


def select_aliases(select: str) -> list[str]:
    """The output column names of a ``SELECT a AS x, f(b) AS y, c FROM …`` (top level)."""
    body = _top_level(select)
    match = re.search(r"^\s*SELECT\b(.*?)\bFROM\b", body, flags=re.S | re.I)
    if not match:
        raise ValueError("expected SELECT … FROM")
    items, depth, start, text = [], 0, 0, body[match.start(1):match.end(1)]
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    names = []
    for item in items:
        name = re.search(r"(?:\bAS\s+)?`?(\w+)`?\s*$", item.strip(), flags=re.I)
        if not name:
            raise ValueError(f"cannot tell the name of select item {item.strip()!r}")
        names.append(name.group(1))
    return names


def _top_level(sql_text: str) -> str:
    """``sql_text`` with string literals blanked and nested parentheses kept (so
    keywords inside strings or subqueries are not mistaken for the outer ones)."""
    out, quote = [], ""
    escaped = False
    for char in sql_text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
                out.append(char)
                continue
            out.append(" " if char not in "()[]{}" else "_")
            continue
        if char in "'\"":
            quote = char
        out.append(char)
    blanked = "".join(out)
    # Hide nested SELECT … FROM inside parentheses from the outer regex.
    result, depth = [], 0
    for char in blanked:
        depth += char == "("
        result.append(char if depth == 0 or char in "(),[]{}" else "x")
        depth -= char == ")"
    return "".join(result)
