"""The whole schema as one SQL script (``tokentrail schema``): the bookkeeping table,
then every migration in order, each statement ending in ``;``."""

from __future__ import annotations

from tokentrail.store.migrations.model import PythonCall
from tokentrail.store.migrations.registry import all_migrations
from tokentrail.store.migrations.runner import bootstrap_statements


def statements(cluster: str | None = None) -> list[str]:
    """Every SQL statement, in order (Python steps left out)."""
    return bootstrap_statements(cluster) + [
        sql for migration in all_migrations() for sql in migration.statements(cluster)]


def render(cluster: str | None = None) -> str:
    """The script, with a comment per migration. Every statement is idempotent, so
    applying it by hand and then ``tokentrail schema --apply`` (which records the
    versions and runs the Python steps) is safe."""
    parts = [sql + ";\n" for sql in bootstrap_statements(cluster)]
    for migration in all_migrations():
        parts.append(f"-- migration {migration.version}: {migration.name}")
        for step in migration.steps(cluster):
            if isinstance(step, PythonCall):
                parts.append(f"-- (python step {step.function}: run by "
                             "`tokentrail schema --apply`, not by this script)\n")
            else:
                parts.append(step + ";\n")
    return "\n".join(parts)
