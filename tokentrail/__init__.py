"""tokentrail: see where the tokens of your Claude agents go and why the prompt cache misses.

This package is imported by agent processes too (``tokentrail.instrumentation``,
``tokentrail.auto``), so it must stay light: nothing here may import chDB,
FastAPI or anything else from the ``server`` extra.
"""

__version__ = "0.1.0"
