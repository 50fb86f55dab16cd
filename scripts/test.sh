#!/usr/bin/env bash
# The project's test command (README). Works from a fresh clone on a machine with
# only Python 3.11 + pip: it makes its own virtualenvs, installs the project with the
# project's own files, lints, and runs the suite twice where the anthropic SDK is
# involved: once with the newest 2.x (main venv), once with the newest 0.x.
# Extra arguments go to the main pytest run, e.g. `bash scripts/test.sh -k runs`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

# Claude Code (from npm) is a real client in the emulator tests; install Node.js
# where the machine lacks it and we may (root, Debian).
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Node.js and npm (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# The browser tests (tests/browser) drive Debian's chromium through Debian's chromedriver,
# built from the same source package, so the two always match; no browser download.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium and chromium-driver (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

make_venv() {  # make_venv DIR PIP-ARGS...
    local dir=$1; shift
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

echo "== main venv (.venv): tokentrail[dev,peers], newest anthropic 2.x"
make_venv .venv -e '.[dev,peers]'
.venv/bin/python -m pip show anthropic | grep -E '^Version' || true

# Only the project's own files: a scratch script of the user's in the checkout (an
# untracked agent.py) is not the project's to lint. Outside a git checkout (an
# unpacked sdist or tarball) lint the folder.
here=$(pwd -P)
if [ "$(git -c safe.directory="$here" rev-parse --show-toplevel 2>/dev/null)" = "$here" ]; then
    echo "== ruff (the Python files git tracks)"
    tracked=()
    while IFS= read -r -d '' file; do
        if [ -f "$file" ]; then tracked+=("$file"); fi  # not those deleted in the worktree
    done < <(git -c safe.directory="$here" ls-files -z -- '*.py')
    if [ ${#tracked[@]} -gt 0 ]; then
        .venv/bin/ruff check --force-exclude "${tracked[@]}"
    fi
else
    echo "== ruff (the whole folder: not a git checkout)"
    .venv/bin/ruff check .
fi

echo "== pytest"
.venv/bin/python -m pytest "$@"

echo "== SDK compatibility venv (.venv-sdk0): newest anthropic 0.x"
make_venv .venv-sdk0 -e '.[dev]' 'anthropic<1'
.venv-sdk0/bin/python -m pip show anthropic | grep -E '^Version' || true
.venv-sdk0/bin/python -m pytest -m sdk
