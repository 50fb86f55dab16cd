"""``python -m tokentrail.store.migrations new|freeze|check`` (see freeze.py)."""

import sys

from tokentrail.store.migrations.freeze import main

sys.exit(main())
