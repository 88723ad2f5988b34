"""Loaded by pytest (`-p tests.environment`) before Django's settings are imported.

The suite runs the development configuration, as `make run` does: DEBUG on (the default is
off), so no production SECRET_KEY is needed and static files need no collectstatic. A caller's
own DEBUG wins; tests of production settings spawn processes with theirs.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "true")
