"""``python -m tokentrail`` is the same as the ``tokentrail`` command."""

from tokentrail._entry import main

main()
