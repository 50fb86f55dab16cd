"""Console-script entry point that works in the base install too.

The CLI itself is built on click and lives in :mod:`tokentrail.cli`, which needs
the ``server`` extra. An agent process only installs the base package; if its
user types ``tokentrail`` anyway, they get a one-line hint instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from tokentrail.cli import cli
    except ImportError as exc:  # pragma: no cover - exercised in the base-install test
        sys.stderr.write(
            f"tokentrail: the command line needs the server extra ({exc.name or exc} is missing).\n"
            "Install it with:  pip install 'tokentrail[server]'\n"
        )
        raise SystemExit(2) from None
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
