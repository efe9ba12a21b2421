"""Command-line tools: `python -m tools {send-events,report}`, `python -m tools.release`."""

import sys

if sys.argv[:1] == ["-m"]:  # runpy is importing the package for `python -m tools...` (see tools/_entry.py)
    from tools._entry import install_tool_hook

    install_tool_hook()
