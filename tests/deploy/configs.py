"""Loading deploy/'s files for the tests: YAML documents, the compose file's variables,
the Dockerfile's instructions, and the real CLI's verdict on a command line."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

from tests.conftest import REPO
from tokentrail.cli import cli
from tokentrail.settings import Settings

DEPLOY = REPO / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
KUBERNETES_DIR = DEPLOY / "kubernetes"
OTELCOL_DIR = DEPLOY / "otelcol"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships (1.37.0)

_COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?+][^}]*)?\}")
_OTELCOL_ENV = re.compile(r"\$\{env:(\w+)\}")


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def compose_spec_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema as check-jsonschema vendors it
    (``vendor.compose-spec``, from the compose-spec project via SchemaStore)."""
    text = (resources.files("check_jsonschema.builtin_schemas.vendor")
            / "compose-spec.json").read_text()
    return json.loads(text)


def dotenv(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (no quoting or expansion is used in deploy/compose/.env)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def compose_variables(text: str) -> set[str]:
    """Names of the ``${VAR}`` / ``${VAR:?msg}`` / ``${VAR:-x}`` a compose file uses."""
    return set(_COMPOSE_VARIABLE.findall(text))


def interpolate(text: str, values: dict[str, str]) -> str:
    """The compose file with its variables replaced (as compose does, for the forms
    used: every variable is required)."""
    def value(match: re.Match) -> str:
        return values[match.group(1)]
    return _COMPOSE_VARIABLE.sub(value, text)


def otelcol_env(text: str) -> set[str]:
    return set(_OTELCOL_ENV.findall(text))


def parse_command(args: list[str]) -> click.Context:
    """Parse ``tokentrail ARGS`` with the real CLI without running it: a flag that does
    not exist or a bad value raises click's usage error."""
    name, *rest = args
    command = cli.commands[name]
    return command.make_context(name, list(rest))


def setting_env_names() -> set[str]:
    return {f"TOKENTRAIL_{name.upper()}" for name in Settings.model_fields}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, rest = full.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    """A JSON array argument (``CMD ["serve"]``), or a shell line split like a shell."""
    if arguments.startswith("["):
        return json.loads(arguments)
    return shlex.split(arguments)
