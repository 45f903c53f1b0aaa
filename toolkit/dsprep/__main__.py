"""``python -m dsprep`` runs the CLI."""

from __future__ import annotations

from dsprep.cli.main import run

if __name__ == "__main__":
    run()
