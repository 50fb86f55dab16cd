"""Finding the migrations: every module ``mNNNN_<slug>.py`` of this package is version
NNNN. Discovered by file name, so adding a migration touches no shared list."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from pathlib import Path

from tokentrail.store.migrations.model import Migration, MigrationFileError, load_files

MODULE_NAME = re.compile(r"^m(\d{4})_[a-z0-9_]+$")
PACKAGE = "tokentrail.store.migrations"
HERE = Path(__file__).parent


def module_names(directory: Path = HERE) -> list[tuple[int, str]]:
    """(version, module name) of every migration module, in version order."""
    found = []
    for info in pkgutil.iter_modules([str(directory)]):
        match = MODULE_NAME.match(info.name)
        if match:
            found.append((int(match.group(1)), info.name))
    found.sort()
    versions = [v for v, _ in found]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationFileError(f"two migration modules share version(s) {duplicates}")
    if versions and versions[0] < 1:
        raise MigrationFileError("migration versions start at 1")
    return found


@functools.lru_cache(maxsize=1)
def all_migrations() -> tuple[Migration, ...]:
    """Every migration, frozen SQL loaded, in version order."""
    return tuple(
        load_files(importlib.import_module(f"{PACKAGE}.{name}"), version)
        for version, name in module_names()
    )
