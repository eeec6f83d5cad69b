"""The ``promptpulse`` and ``ppulse`` commands. ``statusline`` runs after every Claude Code
message, so it skips the CLI framework's start-up; everything else goes to ``cli.main``."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["statusline"] and not {"--help", "-h"} & set(args):
        from promptpulse.statusline import main as statusline

        sys.exit(statusline(args[1:]))
    from promptpulse.cli import main as cli

    cli()
