"""The external tools the self-checks drive, and the one line that says which is missing."""

from __future__ import annotations

import shutil

from pipeline.errors import UserError

# wrk generates the closed-loop load; taskset pins it off the CPUs of the system under test.
TOOLS = ("wrk", "taskset")


def require_tools(command: str, hint: str = "") -> None:
    """Raise UserError naming the first tool `archbench <command>` needs that is not installed."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            raise UserError(f"`{tool}` is not installed; archbench {command} needs it{hint}")
