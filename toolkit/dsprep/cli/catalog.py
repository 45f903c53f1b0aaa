"""What the ``dsprep`` group offers, as plain data: no Click import.

Both the Click group (:mod:`dsprep.cli.main`) and the start-up fast path
(:mod:`dsprep.cli.entry`) read it, so ``dsprep --help`` can be answered without importing
Click while staying identical to what Click prints.
"""

from __future__ import annotations

# name -> ("module:attribute", one-line help); the module is imported only when it runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("dsprep.cli.demo:demo", "Run the main job on the bundled sample (no network)."),
    "fetch": ("dsprep.cli.fetch:fetch", "Download W8A8 weights from ModelScope, config first."),
    "check": ("dsprep.cli.check:check", "Prove a weights folder is servable by vllm-ascend."),
    "template": ("dsprep.cli.template:template", "Rewrite or lint the chat template."),
    "render": ("dsprep.cli.render:render", "Render the chat template as transformers/vLLM do."),
    "emit-launch": (
        "dsprep.cli.emit_launch:emit_launch",
        "Write launch scripts for every node from one cluster file.",
    ),
    "plan": ("dsprep.cli.plan:plan", "Check that weights and KV cache fit the NPUs."),
}

GROUP_HELP = """dsprep: serve DeepSeek-V3.1 W8A8 on Ascend NPUs with vllm-ascend, failing early.

Each command checks one stage of the deployment before it costs anything:
FP8 checkpoints before the download, broken shards before the 20-minute load,
look-alike chat-template tokens before production, wrong IPs before the hang.
"""

EPILOG = "Example: dsprep demo /tmp/dsprep-demo"
USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."
MAX_CONTENT_WIDTH = 100
HELP_OPTIONS = ("-h", "--help")
VERSION_HELP = "Show the version and exit."
DEBUG_HELP = "Show full tracebacks on errors (also DSPREP_DEBUG=1)."
HELP_HELP = "Show this message and exit."
