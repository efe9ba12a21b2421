"""Send Amazon Personalize PutEvents to a deployed event tracker, for a demo or a load test.

The tool lives in `tools/events/` (one module per concern: traffic, recommendations,
validation, rate_limit, sender, summary, cli); this module keeps `python -m tools.send_events`.

Usage:
    python -m tools.send_events --config config/default.yaml --group retail --events 2000 --rate 50
"""

from __future__ import annotations

import sys

from tools.events.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
