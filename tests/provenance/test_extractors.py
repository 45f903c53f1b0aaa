"""The extractors on small source snippets shaped like the releases' code: each rule a
module docstring states is shown to find what it should and to leave out what it should
not, so a broken extractor cannot pass the profile tests silently. No network."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.provenance.extract import Tree
from tests.provenance.extract.additional_config import additional_config_keys
from tests.provenance.extract.compilation import compilation_fields, configs
from tests.provenance.extract.flags import headless_rule, serve_flags
from tests.provenance.extract.image import env_read, image
from tests.provenance.extract.mtp import mtp_methods
from tests.provenance.extract.parsers import reasoning_parsers, tool_parsers
from tests.provenance.extract.quant import fused, model_dtypes, quant_types


def make_tree(root: Path, dist: str, files: dict[str, str], version: str = "1.0") -> Tree:
    """A source tree under ``root`` holding ``files`` (path → dedented text)."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return Tree(root, dist, version)


# --- parsers ---------------------------------------------------------------------------------

REASONING_011 = {
    "vllm/reasoning/__init__.py": """
        from .abs_reasoning_parsers import ReasoningParserManager
        from .alpha_parser import AlphaParser
    """,
    "vllm/reasoning/abs_reasoning_parsers.py": '''
        class ReasoningParserManager:
            """Example: @ReasoningParserManager.register_module("in_a_docstring")"""
    ''',
    "vllm/reasoning/alpha_parser.py": """
        from .abs_reasoning_parsers import ReasoningParserManager
        from .helpers import helper

        @ReasoningParserManager.register_module(["alpha", "alpha_too"])
        class AlphaParser:
            pass

        @ReasoningParserManager.register_module(name="named")
        class NamedParser:
            pass
    """,
    "vllm/reasoning/helpers.py": """
        from .abs_reasoning_parsers import ReasoningParserManager

        @ReasoningParserManager.register_module("imported_indirectly")
        class Helper:
            pass

        def helper():
            pass
    """,
    "vllm/reasoning/beta_parser.py": """
        from .abs_reasoning_parsers import ReasoningParserManager

        @ReasoningParserManager.register_module("never_imported")
        class BetaParser:
            pass
    """,
}


def test_a_decorated_parser_counts_only_when_the_registry_package_imports_it(
    tmp_path: Path,
) -> None:
    vllm = make_tree(tmp_path, "vllm", REASONING_011)
    found = reasoning_parsers(vllm)
    assert sorted(found) == ["alpha", "alpha_too", "imported_indirectly", "named"]
    assert found.names["alpha"] == "vllm==1.0 vllm/reasoning/alpha_parser.py:4"


REASONING_012 = {
    "vllm/reasoning/__init__.py": """
        from vllm.reasoning.abs_reasoning_parsers import ReasoningParserManager

        _REASONING_PARSERS_TO_REGISTER = {
            "deepseek_r1": ("deepseek_r1_reasoning_parser", "DeepSeekR1ReasoningParser"),
            "deepseek_v3": ("deepseek_v3_reasoning_parser", "DeepSeekV3ReasoningParser"),
        }
        _NOT_A_TABLE = {"ernie45": ("x", "Y")}

        def register_lazy_reasoning_parsers():
            for name, (file_name, class_name) in _REASONING_PARSERS_TO_REGISTER.items():
                ReasoningParserManager.register_lazy_module(name, file_name, class_name)

        register_lazy_reasoning_parsers()
        ReasoningParserManager.register_lazy_module("direct", "m", "C")
    """,
    "vllm/reasoning/abs_reasoning_parsers.py": """
        class ReasoningParserManager:
            pass
    """,
}


def test_the_lazy_table_a_registering_loop_reads_is_registered_and_another_dict_is_not(
    tmp_path: Path,
) -> None:
    found = reasoning_parsers(make_tree(tmp_path, "vllm", REASONING_012))
    assert sorted(found) == ["deepseek_r1", "deepseek_v3", "direct"]
    assert found.names["deepseek_v3"] == "vllm==1.0 vllm/reasoning/__init__.py:5"


def test_tool_parsers_come_from_the_package_that_defines_the_manager(tmp_path: Path) -> None:
    vllm = make_tree(
        tmp_path,
        "vllm",
        {
            "vllm/tool_parsers/__init__.py": """
                from vllm.tool_parsers.abstract_tool_parser import ToolParserManager
                _TOOL_PARSERS_TO_REGISTER = {"deepseek_v31": ("deepseekv31_tool_parser", "P")}
                for name, (file_name, class_name) in _TOOL_PARSERS_TO_REGISTER.items():
                    ToolParserManager.register_lazy_module(name, file_name, class_name)
            """,
            "vllm/tool_parsers/abstract_tool_parser.py": "class ToolParserManager:\n    pass\n",
            # the old place only re-exports it (vLLM 0.13): not a registry
            "vllm/entrypoints/openai/tool_parsers/__init__.py": "def __getattr__(n):\n    pass\n",
        },
    )
    assert sorted(tool_parsers(vllm)) == ["deepseek_v31"]


def test_no_registry_means_no_names_and_says_so(tmp_path: Path) -> None:
    found = tool_parsers(make_tree(tmp_path, "vllm", {"vllm/__init__.py": ""}))
    assert len(found) == 0 and "defines ToolParserManager" in found.read


# --- --additional-config keys ----------------------------------------------------------------

ASCEND_CONFIG = {
    "vllm_ascend/ascend_config.py": """
        class AscendConfig:
            def __init__(self, vllm_config):
                additional_config = (
                    vllm_config.additional_config if vllm_config.additional_config else {}
                )
                self.plain = additional_config.get("plain", 1)
                if "flag" in additional_config:
                    pass
                indexed = additional_config["indexed"]
                graph = additional_config.get("graph_config", {})
                self.graph = GraphConfig(graph)
                comp = additional_config.get("comp", {}) or {}
                self.comp = CompConfig(**comp)
                strict = additional_config.get("strict_config", {})
                self.strict = StrictConfig(strict)
                sched = additional_config.get("sched", {})
                self.sched = SchedOptions(sched)
                opaque = additional_config.get("opaque", {})
                self.opaque = Opaque(config=opaque)
                self.helped = self._get_config_value(additional_config, "via_helper", "ENV", 0)
                inner = additional_config.get("outer", {}).get("inner")
                vllm_config.additional_config.setdefault("written", {})
                vllm_config.additional_config["also_written"] = 1

            def _get_config_value(self, config, key, env, default):
                return config.get(key, default)

        class GraphConfig:
            def __init__(self, graph_config):
                self.enabled = graph_config.get("enabled", False)
                self.sizes = graph_config["sizes"]
                if "mode" in graph_config:
                    pass

        class CompConfig:
            def __init__(self, fuse: bool = True, **kwargs):
                self.extra = kwargs.get("extra_kw")

        class StrictConfig:
            _defaults = {"known": 1, "other": 2}

            def __init__(self, user):
                for key, value in user.items():
                    if key not in self._defaults:
                        raise ValueError(key)

        class SchedOptions:
            def __init__(self, options):
                self.enabled = options.get("enabled", False)
                for k, v in options.items():
                    if not hasattr(self, k):
                        setattr(self, k, v)

        class Opaque:
            def __init__(self, config):
                for k, v in config.items():
                    setattr(self, k, v)
    """,
    "vllm_ascend/platform.py": """
        def check_and_update_config(vllm_config, ascend_config):
            if ascend_config.sched.enabled:
                from vllm_ascend.core.schedule_config import AscendSchedulerConfig
                AscendSchedulerConfig.initialize_from_config(
                    vllm_config.scheduler_config, ascend_config.sched
                )
            kv = vllm_config.additional_config.get("kv_cache_dtype", None)
    """,
    "vllm_ascend/core/schedule_config.py": """
        from dataclasses import dataclass, fields
        from vllm.config import SchedulerConfig

        @dataclass
        class AscendSchedulerConfig(SchedulerConfig):
            own_field: int = 0

            @classmethod
            def initialize_from_config(cls, vllm_scheduler_config, ascend_scheduler_config):
                config = {f.name: getattr(vllm_scheduler_config, f.name) for f in fields(cls)}
                for k in config:
                    if hasattr(ascend_scheduler_config, k):
                        config[k] = getattr(ascend_scheduler_config, k)
                return cls(**config)
    """,
    "vllm_ascend/no_config_here.py": "x = {'additional': 1}\n",
}
VLLM_SCHEDULER = {
    "vllm/config/__init__.py": "from vllm.config.scheduler import SchedulerConfig\n",
    "vllm/config/scheduler.py": """
        from dataclasses import dataclass, field

        @dataclass
        class SchedulerConfig:
            max_num_seqs: int = 0
            derived: int = field(init=False)
    """,
}


def test_additional_config_keys_top_level_nested_strict_and_open(tmp_path: Path) -> None:
    ascend = make_tree(tmp_path / "a", "vllm-ascend", ASCEND_CONFIG)
    vllm = make_tree(tmp_path / "v", "vllm", VLLM_SCHEDULER)
    keys = additional_config_keys(ascend, vllm)
    assert sorted(keys.top) == [
        "comp",
        "flag",
        "graph_config",
        "indexed",
        "kv_cache_dtype",
        "opaque",
        "outer",
        "plain",
        "sched",
        "strict_config",
        "via_helper",
    ]  # written keys (setdefault, assignment) are not reads
    nested = {k: sorted(v) for k, v in keys.nested.items()}
    assert nested == {
        "comp": ["extra_kw", "fuse"],  # **: named parameters and kwargs.get
        "graph_config": ["enabled", "mode", "sizes"],
        "outer": ["inner"],
        # kept whole, then copied by the dataclass: its init fields, inherited ones too
        "sched": ["enabled", "max_num_seqs", "own_field"],
        "strict_config": ["known", "other"],  # the class-level _defaults
    }
    assert list(keys.strict) == ["strict_config"]
    assert list(keys.open) == ["opaque"]  # kept whole, no consumer: no key list
    assert keys.top.names["plain"] == "vllm-ascend==1.0 vllm_ascend/ascend_config.py:6"
    where = keys.nested["sched"].names["max_num_seqs"]
    assert where == "vllm==1.0 vllm/config/scheduler.py:5, copied at " + (
        "vllm-ascend==1.0 vllm_ascend/platform.py:4"
    )
    assert keys.reads(["graph_config", "enabled"]) and keys.reads(["opaque", "anything"])
    assert not keys.reads(["graph_config", "typo"]) and not keys.reads(["written"])


def test_without_the_vllm_tree_a_consumer_gives_only_its_own_fields(tmp_path: Path) -> None:
    ascend = make_tree(tmp_path / "a", "vllm-ascend", ASCEND_CONFIG)
    keys = additional_config_keys(ascend)
    assert sorted(keys.nested["sched"]) == ["enabled", "own_field"]


# --- quantization ----------------------------------------------------------------------------

QUANT_013 = {
    "vllm_ascend/utils.py": 'ASCEND_QUANTIZATION_METHOD = "ascend"\n',
    "vllm_ascend/quantization/utils.py": """
        ASCEND_QUANTIZATION_METHOD_MAP = {
            "W8A8": {"linear": A, "moe": B, "attention": C},
            "W8A8_DYNAMIC": {"linear": D, "moe": E},
            "C8": {"attention": C},
        }
    """,
    "vllm_ascend/quantization/quant_config.py": """
        import torch
        from vllm_ascend.utils import ASCEND_QUANTIZATION_METHOD

        @register_quantization_config(ASCEND_QUANTIZATION_METHOD)
        class AscendQuantConfig:
            @classmethod
            def get_supported_act_dtypes(cls):
                return [torch.int8, torch.float16, torch.bfloat16]

        packed_modules_model_mapping = {
            "qwen3": {"qkv_proj": ["q_proj", "k_proj", "v_proj"]},
            "deepseek_v3": {
                "gate_up_proj": ["gate_proj", "up_proj"],
                "fused_qkv_a_proj": ["q_a_proj", "kv_a_proj_with_mqa"],
            },
        }
    """,
}


def test_quant_types_per_kind_from_the_method_map_and_the_ascend_config(tmp_path: Path) -> None:
    ascend = make_tree(tmp_path, "vllm-ascend", QUANT_013)
    kinds = {kind: sorted(listed) for kind, listed in quant_types(ascend).items()}
    assert kinds == {
        "linear": ["W8A8", "W8A8_DYNAMIC"],
        "moe": ["W8A8", "W8A8_DYNAMIC"],
        "attention": ["C8", "W8A8"],
    }
    assert fused(ascend, "deepseek_v3") == {
        "gate_up_proj": (
            ["gate_proj", "up_proj"],
            "vllm-ascend==1.0 vllm_ascend/quantization/quant_config.py:13",
        ),
        "fused_qkv_a_proj": (
            ["q_a_proj", "kv_a_proj_with_mqa"],
            "vllm-ascend==1.0 vllm_ascend/quantization/quant_config.py:14",
        ),
    }
    assert fused(ascend, "kimi_k2") == {}
    dtypes = model_dtypes(ascend)
    assert dtypes is not None and sorted(dtypes) == [
        "bfloat16",
        "float16",
    ]  # int8 is no model dtype


QUANT_018 = {
    "vllm_ascend/quantization/methods/__init__.py": """
        from .registry import register_scheme
        from .w8a8 import W8A8Linear
    """,
    "vllm_ascend/quantization/methods/registry.py": "def register_scheme(t, k):\n    pass\n",
    "vllm_ascend/quantization/methods/w8a8.py": """
        from .registry import register_scheme

        @register_scheme("W8A8", "linear")
        class W8A8Linear:
            pass

        @register_scheme("FP8", "ds_linear")
        class Fp8DsLinear:
            pass

        @register_scheme("INT8_DYNAMIC", "attention")
        class Int8Attention:
            pass
    """,
    "vllm_ascend/quantization/methods/unused.py": """
        from .registry import register_scheme

        @register_scheme("NEVER_IMPORTED", "linear")
        class Unused:
            pass
    """,
}


def test_quant_types_from_the_scheme_registry_of_the_imported_modules(tmp_path: Path) -> None:
    kinds = quant_types(make_tree(tmp_path, "vllm-ascend", QUANT_018))
    assert {k: sorted(v) for k, v in kinds.items()} == {
        "linear": ["W8A8"],
        "moe": [],
        "attention": ["INT8_DYNAMIC"],
    }  # ds_linear belongs to another quantization config


# --- vllm serve flags ------------------------------------------------------------------------

VLLM_CLI = {
    "vllm/model_executor/quantization.py": 'QuantizationMethods = Literal["fp8", "awq"]\n',
    "vllm/config/model.py": """
        from typing import Literal, Optional
        from vllm.model_executor.quantization import QuantizationMethods

        ModelDType = Literal["auto", "half", "bfloat16"]
        TokenizerMode = Literal["auto", "slow"]

        @config
        @dataclass
        class ModelConfig:
            trust_remote_code: bool = False
            dtype: ModelDType | str = "auto"
            tokenizer_mode: TokenizerMode = "auto"
            quantization: Optional[QuantizationMethods] = None
            max_model_len: SkipValidation[int] = None
    """,
    "vllm/config/compilation.py": """
        import enum
        from dataclasses import dataclass, field

        class CUDAGraphMode(enum.Enum):
            NONE = 0
            FULL_DECODE_ONLY = (2, 0)

        @dataclass
        class CompilationConfig:
            cudagraph_mode: CUDAGraphMode | None = None
            cudagraph_capture_sizes: list[int] | None = None
            max_capture_size: int = field(default=None, init=False)
    """,
    "vllm/config/vllm.py": """
        from vllm.config.compilation import CompilationConfig

        @dataclass
        class VllmConfig:
            compilation_config: CompilationConfig = Field(default_factory=CompilationConfig)
    """,
    "vllm/engine/arg_utils.py": """
        import argparse
        from vllm.config.model import ModelConfig
        from vllm.config.vllm import VllmConfig

        @dataclass
        class EngineArgs:
            @staticmethod
            def add_cli_args(parser):
                model_kwargs = get_kwargs(ModelConfig)
                vllm_kwargs = get_kwargs(VllmConfig)
                parser.add_argument("--trust-remote-code", **model_kwargs["trust_remote_code"])
                parser.add_argument("--dtype", **model_kwargs["dtype"])
                parser.add_argument("--tokenizer-mode", **model_kwargs["tokenizer_mode"])
                parser.add_argument("--quantization", "-q", **model_kwargs["quantization"])
                parser.add_argument(
                    "--max-model-len", **{**model_kwargs["max_model_len"], "default": None}
                )
                cc = vllm_kwargs["compilation_config"]
                parser.add_argument("--compilation-config", "-cc", **cc)
                return parser

        @dataclass
        class AsyncEngineArgs(EngineArgs):
            @staticmethod
            def add_cli_args(parser):
                parser = EngineArgs.add_cli_args(parser)
                parser.add_argument("--enable-log-requests", action=argparse.BooleanOptionalAction)
                return parser
    """,
    "vllm/entrypoints/openai/cli_args.py": """
        from vllm.reasoning import ReasoningParserManager

        @config
        @dataclass
        class FrontendArgs:
            enable_auto_tool_choice: bool = False
            tool_call_parser: str | None = None

            @classmethod
            def add_cli_args(cls, parser):
                frontend_kwargs = get_kwargs(FrontendArgs)
                for key, value in frontend_kwargs.items():
                    parser.add_argument(f"--{key.replace('_', '-')}", **value)
                return parser

        def make_arg_parser(parser):
            parser.add_argument("model_tag", nargs="?")
            parser.add_argument("--headless", action="store_true")
            parser.add_argument("--api-server-count", "-asc", type=int)
            parser.add_argument(
                "--reasoning-parser", choices=list(ReasoningParserManager.reasoning_parsers)
            )
            parser.add_argument("--served-model-name", nargs="+")
            parser = FrontendArgs.add_cli_args(parser)
            return AsyncEngineArgs.add_cli_args(parser)
    """,
    "vllm/entrypoints/cli/serve.py": """
        class ServeSubcommand:
            @staticmethod
            def cmd(args):
                if args.headless:
                    if args.api_server_count is not None and args.api_server_count > 0:
                        raise ValueError("--api-server-count cannot be used with --headless")
                if args.api_server_count is None:
                    args.api_server_count = args.data_parallel_size

            def subparser_init(self, subparsers):
                serve_parser = subparsers.add_parser("serve")
                serve_parser.add_argument("--grpc", action="store_true")
                return make_arg_parser(serve_parser)

        def run_headless(args):
            if args.api_server_count > 1:
                raise ValueError("api_server_count can't be set in headless mode")
            if args.api_server_count > 5:
                logger.warning("not a raise")
    """,
    **REASONING_011,
}
ASCEND_PLATFORM = {
    "vllm_ascend/utils.py": 'ASCEND_QUANTIZATION_METHOD = "ascend"\n',
    "vllm_ascend/platform.py": """
        from vllm_ascend.utils import ASCEND_QUANTIZATION_METHOD

        class NPUPlatform:
            @classmethod
            def pre_register_and_update(cls, parser=None):
                if parser is not None:
                    quant_action = parser._option_string_actions.get("--quantization")
                    if quant_action and quant_action.choices:
                        quant_action.choices.append(ASCEND_QUANTIZATION_METHOD)
    """,
}


def test_serve_flags_reproduce_vllms_argparse_kwargs(tmp_path: Path) -> None:
    vllm = make_tree(tmp_path / "v", "vllm", VLLM_CLI)
    ascend = make_tree(tmp_path / "a", "vllm-ascend", ASCEND_PLATFORM)
    flags = serve_flags(vllm, ascend)
    assert sorted(flags.flags) == [
        "--api-server-count",
        "--compilation-config",
        "--dtype",
        "--enable-auto-tool-choice",
        "--enable-log-requests",
        "--grpc",
        "--headless",
        "--max-model-len",
        "--no-enable-auto-tool-choice",
        "--no-enable-log-requests",
        "--no-trust-remote-code",
        "--quantization",
        "--reasoning-parser",
        "--served-model-name",
        "--tokenizer-mode",
        "--tool-call-parser",
        "--trust-remote-code",
        "-asc",
        "-cc",
        "-q",
    ]  # the positional model_tag is no option
    assert flags.choices == {
        "--quantization": ["awq", "fp8", "None", "ascend"],  # optional, plus the plugin's
        "-q": ["awq", "fp8", "None", "ascend"],
        "--reasoning-parser": ["alpha", "alpha_too", "imported_indirectly", "named"],
        "--tokenizer-mode": ["auto", "slow"],
    }  # dtype allows str (a metavar), compilation-config is a dataclass (JSON)
    assert flags.flags["--dtype"] == "vllm==1.0 vllm/engine/arg_utils.py:12"


def test_without_the_plugin_the_choices_are_vllms(tmp_path: Path) -> None:
    flags = serve_flags(make_tree(tmp_path, "vllm", VLLM_CLI))
    assert flags.choices["--quantization"] == ["awq", "fp8", "None"]


def test_the_headless_bound_is_the_smallest_raise_on_the_headless_path(tmp_path: Path) -> None:
    rule = headless_rule(make_tree(tmp_path, "vllm", VLLM_CLI))
    assert rule is not None
    assert (rule.max_api_server_count, rule.raises) == (0, "ValueError")
    assert rule.at == "vllm==1.0 vllm/entrypoints/cli/serve.py:6"
    assert rule.head_per_dp_rank


def test_config_fields_and_enum_members(tmp_path: Path) -> None:
    vllm = make_tree(tmp_path, "vllm", VLLM_CLI)
    fields, members = compilation_fields(vllm)
    assert sorted(fields) == ["cudagraph_capture_sizes", "cudagraph_mode"]  # init=False left out
    assert sorted(members) == ["cudagraph_mode"]
    assert sorted(members["cudagraph_mode"]) == ["FULL_DECODE_ONLY", "NONE"]
    found = configs(vllm)
    assert sorted(found) == ["compilation_config", "kv_transfer_config", "speculative_config"]
    assert len(found["speculative_config"]) == 0  # no SpeculativeConfig fields in this snippet


# --- MTP -------------------------------------------------------------------------------------

SPECULATIVE_012 = {
    "vllm/config/speculative.py": """
        MTPModelTypes = Literal["deepseek_mtp", "mimo_mtp", "mtp"]
        EagleModelTypes = Literal["eagle", "eagle3", MTPModelTypes]
        SpeculativeMethod = Literal["ngram", "medusa", EagleModelTypes]

        class SpeculativeConfig:
            def __post_init__(self):
                if self.method in get_args(MTPModelTypes) and self.method != "mtp":
                    logger.warning("method `%s` is deprecated and replaced with mtp.", self.method)
                    self.method = "mtp"
                if self.draft_model_config.hf_config.model_type in get_args(MTPModelTypes):
                    self.method = "mtp"
                elif self.draft_model_config.hf_config.model_type == "medusa":
                    self.method = "medusa"
    """,
}


def test_mtp_names_rewritten_with_a_warning_are_deprecated_aliases(tmp_path: Path) -> None:
    vllm = make_tree(tmp_path / "v", "vllm", SPECULATIVE_012)
    ascend = make_tree(tmp_path / "a", "vllm-ascend", {"vllm_ascend/__init__.py": ""})
    mtp = mtp_methods(vllm, ascend)
    assert mtp.method == "mtp"
    assert mtp.aliases == {"deepseek_mtp": "deprecated", "mimo_mtp": "deprecated"}
    assert mtp.method_at == "vllm==1.0 vllm/config/speculative.py:9"


SPECULATIVE_011 = {
    "vllm/config/speculative.py": """
        SpeculativeMethod = Literal["ngram", "eagle", "deepseek_mtp", "ernie_mtp", "mtp"]
        MTP_MODEL_TYPES = ("deepseek_mtp", "ernie_mtp", "glm4_moe_mtp")

        class SpeculativeConfig:
            def __post_init__(self):
                if self.method in MTP_MODEL_TYPES:
                    logger.warning("method `%s` is deprecated and replaced with mtp.", self.method)
                    self.method = "mtp"
    """,
}
ASCEND_PATCH = {
    "vllm_ascend/patch/platform/__init__.py": "from . import patch_config\n",
    "vllm_ascend/patch/platform/patch_config.py": """
        from vllm.config.speculative import SpeculativeConfig

        def __post_init__(self):
            if self.method in ("eagle", "eagle3"):
                pass
            elif self.draft_model_config.hf_config.model_type in ("deepseek_mtp", "mimo_mtp"):
                self.method = "deepseek_mtp"

        SpeculativeConfig.__post_init__ = __post_init__
    """,
}


def test_a_replaced_post_init_decides_the_method_and_accepts_the_others_silently(
    tmp_path: Path,
) -> None:
    vllm = make_tree(tmp_path / "v", "vllm", SPECULATIVE_011)
    ascend = make_tree(tmp_path / "a", "vllm-ascend", ASCEND_PATCH)
    mtp = mtp_methods(vllm, ascend)
    assert mtp.method == "deepseek_mtp"
    # glm4_moe_mtp is an MTP model type but not in the Literal: pydantic rejects it
    assert mtp.aliases == {"ernie_mtp": "accepted", "mtp": "accepted"}
    assert mtp.method_at == "vllm-ascend==1.0 vllm_ascend/patch/platform/patch_config.py:7"


def test_a_patch_module_nothing_imports_replaces_nothing(tmp_path: Path) -> None:
    vllm = make_tree(tmp_path / "v", "vllm", SPECULATIVE_011)
    unimported = {**ASCEND_PATCH, "vllm_ascend/patch/platform/__init__.py": ""}
    ascend = make_tree(tmp_path / "a", "vllm-ascend", unimported)
    mtp = mtp_methods(vllm, ascend)
    assert mtp.method == "mtp"
    assert mtp.aliases == {"deepseek_mtp": "deprecated", "ernie_mtp": "deprecated"}


# --- image and environment -------------------------------------------------------------------


def test_image_facts_from_the_dockerfile_and_pkg_info(tmp_path: Path) -> None:
    ascend = make_tree(
        tmp_path,
        "vllm-ascend",
        {
            "PKG-INFO": "Metadata-Version: 2.1\nName: vllm_ascend\nVersion: 0.11.0rc0\n",
            "Dockerfile": """
                FROM quay.io/ascend/cann:8.2.rc1-910b-ubuntu22.04-py3.11
                ARG VLLM_TAG=v0.11.0rc3
            """,
        },
    )
    found = image(ascend)
    assert (found.vllm_ascend, found.vllm, found.cann, found.python) == (
        "0.11.0rc0",
        "0.11.0rc3",
        "8.2.rc1",
        "3.11",
    )
    assert found.at["vllm"] == "vllm-ascend==1.0 Dockerfile:2"


def test_an_environment_variable_is_read_from_the_tables_or_literally(tmp_path: Path) -> None:
    vllm = make_tree(
        tmp_path / "v",
        "vllm",
        {
            "vllm/envs.py": """
                environment_variables = {"VLLM_USE_MODELSCOPE": lambda: False}
            """,
            "vllm/other.py": """
                import os
                a = os.getenv("VLLM_LITERAL")
                b = os.environ["VLLM_INDEXED"]
                c = "VLLM_ONLY_A_STRING"
            """,
        },
    )
    ascend = make_tree(
        tmp_path / "a",
        "vllm-ascend",
        {"vllm_ascend/envs.py": 'env_variables = {"VLLM_ASCEND_ENABLE_MLAPO": lambda: 0}\n'},
    )
    assert env_read(vllm, ascend, "VLLM_USE_MODELSCOPE") == "vllm==1.0 vllm/envs.py:1"
    assert (
        env_read(vllm, ascend, "VLLM_ASCEND_ENABLE_MLAPO")
        == "vllm-ascend==1.0 vllm_ascend/envs.py:1"
    )
    assert env_read(vllm, ascend, "VLLM_LITERAL") == "vllm==1.0 vllm/other.py:2"
    assert env_read(vllm, ascend, "VLLM_INDEXED") == "vllm==1.0 vllm/other.py:3"
    assert env_read(vllm, ascend, "VLLM_ONLY_A_STRING") is None
    assert env_read(vllm, ascend, "VLLM_USE_V1") is None
