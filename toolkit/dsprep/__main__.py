"""``python -m dsprep`` runs the CLI."""

from __future__ import annotations

from dsprep.cli.entry import main

if __name__ == "__main__":
    main()
