"""``tokentrail demo``: see what tokentrail shows before instrumenting anything.

The demo starts the Anthropic API emulator and ``tokentrail serve`` on a throw-away
embedded store, runs a set of agents (:mod:`.agents`, each named for what it teaches)
through the real ``anthropic`` SDK with ``import tokentrail.auto``, one process per
agent as a user's agent would run (:mod:`.agent_process`), and prints the UI's address
with what to look at first (:mod:`.runner`). A virtual clock (:mod:`.clock`) lets the
run with long pauses between its turns take no time.

Needs the ``anthropic`` SDK: ``pip install 'tokentrail[demo]'``.
"""
