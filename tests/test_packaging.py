"""The distribution: one wheel with every subpackage and the UI's files, and a base
install (no ``server`` extra) that an agent process can import."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SUBPACKAGES = ("tokentrail", "tokentrail/store", "tokentrail/instrumentation",
               "tokentrail/emulator", "tokentrail/collector", "tokentrail/web",
               "tokentrail/web/routers")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True, timeout=600,
    )
    (path,) = out.glob("tokentrail-*.whl")
    return path


def test_wheel_contains_every_subpackage_and_ui_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in SUBPACKAGES:
        assert f"{package}/__init__.py" in names, package
    assert "tokentrail/web/templates/base.html" in names
    assert "tokentrail/web/templates/runs.html" in names
    assert "tokentrail/web/static/style.css" in names
    assert not any(name.startswith("tests/") for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: server" in text
    base_requires = [line for line in text.splitlines()
                     if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert base_requires, text
    assert not any(heavy in line for line in base_requires
                   for heavy in ("chdb", "clickhouse", "fastapi", "grpcio", "uvicorn"))


def test_base_install_imports_instrumentation_without_server_deps(wheel, tmp_path):
    env_dir = tmp_path / "base-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, timeout=600)
    check = (
        "import importlib.util, sys\n"
        "import tokentrail.instrumentation, tokentrail.semconv, tokentrail.auto\n"
        "for heavy in ('chdb', 'clickhouse_connect', 'fastapi', 'grpc', 'uvicorn'):\n"
        "    assert importlib.util.find_spec(heavy) is None, heavy + ' is installed'\n"
        "print('ok')\n"
    )
    result = subprocess.run([str(python), "-c", check], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
    cli = subprocess.run([str(env_dir / "bin" / "tokentrail"), "serve"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert cli.returncode == 2
    assert "pip install 'tokentrail[server]'" in cli.stderr
