"""The one place terminal output is set up (rich: tables, trees and colour that degrade to plain text)."""

from __future__ import annotations

import sys
from typing import Any

#: Width used when output goes to a file or a CI log rather than a terminal (rich would assume 80 and
#: wrap the tables' request ids and diagnoses).
LOG_WIDTH = 140


def make_console(*, stderr: bool = False, **kwargs: Any) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else LOG_WIDTH
    return Console(stderr=stderr, highlight=False, width=width, **kwargs)
