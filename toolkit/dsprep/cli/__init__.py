"""Thin Click commands: parse options, call the core, report, exit (house rule 1)."""
