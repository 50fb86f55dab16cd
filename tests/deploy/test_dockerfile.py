"""Dockerfile and .dockerignore: pinned slim base images, an unprivileged user, the
server extra, the ports of tokentrail's settings, a default command the real CLI
parses, and a build context from which the wheel builds complete. No Docker engine can
run here: the image was never built; the wheel is built here from exactly the files
the context would hold."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.configs import dockerfile_instructions, exec_form, parse_command
from tokentrail.settings import Settings

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE)


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    return instructions[last_from:]


def test_base_images_are_pinned_slim_python():
    images = [args.split()[0] for keyword, args in _instructions() if keyword == "FROM"]
    assert len(images) == 2
    for image in images:
        name, _, tag = image.partition(":")
        assert name == "python" and tag.endswith("-slim") and tag[0].isdigit(), image


def test_runs_unprivileged_with_the_server_extra():
    stage = _final_stage()
    (user,) = [args for keyword, args in stage if keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: runAsNonRoot can verify it
    installs = [args for keyword, args in stage if keyword == "RUN" and "pip install" in args]
    assert any("[server]" in args for args in installs)
    assert not any("[dev" in args for args in installs)
    users = " ".join(args for keyword, args in stage if keyword == "RUN")
    assert f"--uid {uid}" in users


def test_exposes_the_settings_ports_and_runs_the_cli():
    stage = _final_stage()
    (exposed,) = [args for keyword, args in stage if keyword == "EXPOSE"]
    fields = Settings.model_fields
    assert {int(p) for p in exposed.split()} == {
        fields[name].default for name in ("otlp_grpc_port", "otlp_http_port", "ui_port",
                                          "sql_port")}
    (entrypoint,) = [exec_form(a) for k, a in stage if k == "ENTRYPOINT"]
    (command,) = [exec_form(a) for k, a in stage if k == "CMD"]
    assert entrypoint == ["tokentrail"]
    parse_command(command)
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "TOKENTRAIL_HOST=0.0.0.0" in env  # and so tokentrail demands its tokens


def _ignore_rules() -> list[tuple[bool, str]]:
    """(exclude?, pattern) of .dockerignore, for the forms it uses: `*`, `!dir/`,
    `!file`, `**/name`; anything else fails here rather than be misread."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        assert pattern == "*" or "/" not in pattern.removeprefix("**/"), line
        rules.append((not negated, pattern))
    return rules


def _in_context(relative: Path) -> bool:
    """Docker's rule: the last matching pattern decides; a pattern matches a path or
    any of its parent directories."""
    included = True
    parts = relative.parts
    for exclude, pattern in _ignore_rules():
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = fnmatch.fnmatch(parts[0], pattern)
        if hit:
            included = not exclude
    return included


def _build_context(target: Path) -> None:
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if relative.parts[0] in (".git", ".venv") or not path.is_file():
            continue
        if _in_context(relative):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


def test_copied_sources_are_in_the_build_context():
    copies = [exec_form(a) for k, a in _instructions()
              if k == "COPY" and not a.startswith("--from")]
    for args in copies:
        for source in args[:-1]:
            assert (REPO / source).exists(), source
            assert _in_context(Path(source) / "x") or _in_context(Path(source)), source
    assert not _in_context(Path("tests/conftest.py"))
    assert not _in_context(Path(".venv/bin/python"))


@pytest.mark.timeout(600)
def test_the_wheel_builds_complete_from_the_build_context(tmp_path):
    """What the build stage does (`pip wheel --no-deps`), from the files the context
    holds: the wheel must carry every package's modules and data (templates, SQL, the
    price list) that the repository's package directories hold."""
    context = tmp_path / "context"
    _build_context(context)
    copied = {Path(a) for k, args in _instructions() if k == "COPY"
              and not args.startswith("--from") for a in exec_form(args)[:-1]}
    assert {p for p in copied if (REPO / p).is_dir()} == \
        {Path(p.name) for p in context.iterdir() if p.is_dir()}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
         str(tmp_path / "dist"), str(context)],
        capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("tokentrail-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package_dirs = {"tokentrail": "tokentrail", "instrumentation": "tokentrail/instrumentation",
                    "emulator": "tokentrail/emulator", "collector": "tokentrail/collector",
                    "web": "tokentrail/web", "analysis": "tokentrail/analysis"}
    wanted = set()
    for source, installed in package_dirs.items():
        for path in (context / source).rglob("*"):
            if path.suffix in (".py", ".sql", ".html", ".csv", ".toml") and \
                    "__pycache__" not in path.parts:
                relative = path.relative_to(context / source).as_posix()
                wanted.add(f"{installed}/{relative}")
    assert "tokentrail/web/templates/base.html" in wanted
    missing = wanted - names
    assert not missing, sorted(missing)[:20]
    builds = [a for k, a in _instructions() if k == "RUN" and "wheel" in a]
    assert builds == ["pip wheel --no-cache-dir --disable-pip-version-check --no-deps "
                      "--wheel-dir /dist ."]  # the command run above
