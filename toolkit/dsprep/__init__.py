"""dsprep: fail-early preparation of DeepSeek-V3.1 W8A8 serving on Ascend NPUs with vllm-ascend."""

from __future__ import annotations

__version__ = "0.1.0"
