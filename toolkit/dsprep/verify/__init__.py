"""``dsprep verify URL``: prove a live vLLM deployment with the official OpenAI client.

Each check is one row of a PASS/FAIL table with its figures; each FAIL is a finding from
the catalogue (area ``verify``) with its fix. :func:`dsprep.verify.run.verify_deployment`
is the entry point; the CLI (``dsprep.cli.verify``) only parses, reports and exits.
"""
