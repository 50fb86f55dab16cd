"""Developer commands: start a migration, freeze it, check the frozen files.

    python -m tokentrail.store.migrations new --version N SLUG "one-line description"
    python -m tokentrail.store.migrations freeze mNNNN_slug [--force]
    python -m tokentrail.store.migrations check

``freeze`` imports the module, calls its ``build()`` (which reads the live definitions)
and writes ``mNNNN_slug.sql`` / ``mNNNN_slug.cluster.sql`` and the module's
``CHECKSUM``. It refuses to overwrite frozen files without ``--force``: a released
migration is never re-frozen.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

from tokentrail.store.migrations.model import (
    checksum,
    format_steps,
    load_files,
    parse_steps,
)
from tokentrail.store.migrations.registry import MODULE_NAME, PACKAGE, module_names

HERE = Path(__file__).parent

_TEMPLATE = '''"""Migration {version}: {name}.

Built by ``build()`` from the live definitions and frozen by
``python -m tokentrail.store.migrations freeze {module}`` into {module}.sql and
{module}.cluster.sql, which are what runs. Once released, never edit or re-freeze it.
"""

from __future__ import annotations

from tokentrail.store import schema
from tokentrail.store.migrations import build as b

NAME = "{name}"
CHECKSUM = ""  # written by freeze


def build() -> list[b.Piece]:
    return [
        # e.g. b.add_columns(schema.LLM_CALL_REPORTS, "cost_usd"),
        #      b.replace_materialized_view(schema.LLM_CALLS_FROM_TRACES_MV),
        #      b.replace_view(schema.LLM_CALLS),
        #      b.rederive(schema.LLM_CALLS_FROM_TRACES_MV),
    ]
'''


def new(version: int, slug: str, name: str, *, directory: Path = HERE) -> Path:
    """Write the skeleton of migration ``version``."""
    module = f"m{version:04d}_{slug}"
    if not MODULE_NAME.match(module):
        raise SystemExit(f"bad slug {slug!r}: use lowercase letters, digits and _")
    taken = dict(module_names(directory))
    if version in taken:
        raise SystemExit(f"version {version} is taken by {taken[version]}")
    path = directory / f"{module}.py"
    path.write_text(_TEMPLATE.format(version=version, name=name.replace('"', "'"),
                                     module=module), encoding="utf-8")
    return path


def freeze(module_name: str, *, force: bool = False, package: str = PACKAGE) -> str:
    """Render ``build()`` of a migration module into its SQL files; returns the checksum."""
    from tokentrail.store.migrations import build as b

    match = MODULE_NAME.match(module_name)
    if not match:
        raise SystemExit(f"{module_name!r} is not a migration module name (mNNNN_slug)")
    version = int(match.group(1))
    module = importlib.import_module(f"{package}.{module_name}")
    if not callable(getattr(module, "build", None)):
        raise SystemExit(f"{module_name} has no build(): it cannot be (re-)frozen")
    directory = Path(module.__file__ or "").parent
    single_path = directory / f"{module_name}.sql"
    cluster_path = directory / f"{module_name}.cluster.sql"
    if not force and (single_path.exists() or cluster_path.exists()):
        raise SystemExit(f"{module_name} is frozen already; a released migration must not "
                         "change (use --force only for one that was never released)")
    single, cluster = b.render(module.build())
    if not single:
        raise SystemExit(f"{module_name}.build() returned no steps")
    header = (f"-- Migration {version}: {module.NAME}.\n"
              f"-- Frozen by `python -m tokentrail.store.migrations freeze {module_name}` "
              "from the live\n-- definitions. Never edit: change the schema with a new "
              "migration.\n")
    for path, steps, note in ((single_path, single, ""),
                              (cluster_path, cluster,
                               "-- `__CLUSTER__` stands for the cluster's quoted name.\n")):
        text = header + note + "\n" + format_steps(steps)
        if parse_steps(text, source=path.name) != steps:  # e.g. a line ending in ';'
            raise SystemExit(f"{path.name}: the rendering does not read back as the same "
                             "statements; reformat the SQL that ends a line with ';'")
        path.write_text(text, encoding="utf-8")
    digest = checksum(single, cluster)
    source = Path(module.__file__ or "")
    text = source.read_text(encoding="utf-8")
    text, count = re.subn(r'^CHECKSUM = "[0-9a-f]*"', f'CHECKSUM = "{digest}"', text,
                          count=1, flags=re.M)
    if not count:
        text += f'\nCHECKSUM = "{digest}"\n'
    source.write_text(text, encoding="utf-8")
    return digest


def check() -> list[str]:
    """Problems with the frozen migrations (files unreadable, checksum mismatches)."""
    problems = []
    for version, name in module_names():
        module = importlib.import_module(f"{PACKAGE}.{name}")
        try:
            migration = load_files(module, version)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if migration.checksum != migration.declared_checksum:
            problems.append(f"{name}: the frozen SQL's checksum {migration.checksum} is not "
                            f"the declared CHECKSUM {migration.declared_checksum!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tokentrail.store.migrations",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new_cmd = commands.add_parser("new", help="write the skeleton of a migration")
    new_cmd.add_argument("--version", type=int, required=True)
    new_cmd.add_argument("slug")
    new_cmd.add_argument("name", help="one-line description")
    freeze_cmd = commands.add_parser("freeze", help="render build() into the SQL files")
    freeze_cmd.add_argument("module", help="e.g. m0004_insights")
    freeze_cmd.add_argument("--force", action="store_true")
    commands.add_parser("check", help="verify the frozen files against their checksums")
    args = parser.parse_args(argv)
    if args.command == "new":
        print(new(args.version, args.slug, args.name))
    elif args.command == "freeze":
        print(f"{args.module}: CHECKSUM = {freeze(args.module, force=args.force)}")
    else:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print("all migrations match their checksums")
    return 0
