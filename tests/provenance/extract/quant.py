"""The ``--quantization ascend`` side of a release: the description quant types each layer
kind accepts, the layers it loads as one (fused), and the model dtypes it allows.

- Quant types: vllm-ascend <= 0.13 look a description's type up in
  ``ASCEND_QUANTIZATION_METHOD_MAP`` (``vllm_ascend/quantization/utils.py``: type → {layer
  kind → method}); from 0.18 in the ``@register_scheme(type, kind)`` registry of
  ``vllm_ascend/quantization/methods`` (the classes of the modules that package's
  ``__init__`` imports; the 310P image's ``vllm_ascend/_310p`` registry is another one).
  ``FLOAT`` is not a type of either: an unquantized layer is decided before the lookup.
  Kinds other than ``linear``/``moe``/``attention`` (0.23's ``ds_linear``/``w4a8_moe``)
  belong to other quantization configs and are not returned.
- Fused layers: ``packed_modules_model_mapping[<model_type>]`` of the module that defines
  the ``ascend`` config class (the class decorated with
  ``register_quantization_config(ASCEND_QUANTIZATION_METHOD)``), module → shard names.
- Model dtypes: the floating-point ``torch.<dtype>`` s that class's
  ``get_supported_act_dtypes`` returns (vLLM refuses a model dtype outside that list;
  ``int8`` is in it but is no model dtype).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.provenance.extract._ast import (
    Resolver,
    Tree,
    assignments,
    dotted,
    last_name,
    package_modules,
    parse,
    string,
    strings,
)
from tests.provenance.extract.facts import Listed

KINDS = ("linear", "moe", "attention")
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "half", "float"}
QUANTIZATION = "vllm_ascend/quantization"


def _method_map(ascend: Tree) -> dict[str, dict[str, str]] | None:
    """kind → type → citation from ``ASCEND_QUANTIZATION_METHOD_MAP`` (None: no such map)."""
    path = ascend.root / QUANTIZATION / "utils.py"
    if not path.is_file():
        return None
    for name, value, _ in assignments(parse(path).body):
        if name != "ASCEND_QUANTIZATION_METHOD_MAP" or not isinstance(value, ast.Dict):
            continue
        found: dict[str, dict[str, str]] = {}
        for key, methods in zip(value.keys, value.values, strict=True):
            quant_type = string(key)
            if quant_type is None or not isinstance(methods, ast.Dict):
                continue
            for kind_node in methods.keys:
                kind = string(kind_node)
                if kind is not None and kind_node is not None:
                    where = ascend.cite(path, kind_node.lineno)
                    found.setdefault(kind, {}).setdefault(quant_type, where)
        return found
    return None


def _scheme_registry(ascend: Tree) -> dict[str, dict[str, str]]:
    """kind → type → citation from ``@register_scheme`` in the imported scheme modules."""
    init = ascend.root / QUANTIZATION / "methods" / "__init__.py"
    found: dict[str, dict[str, str]] = {}
    if not init.is_file():
        return found
    for path in package_modules(Resolver(ascend), init):
        for node in ast.walk(parse(path)):
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and len(decorator.args) >= 2):
                    continue
                if last_name(decorator.func) != "register_scheme":
                    continue
                quant_type, kind = string(decorator.args[0]), string(decorator.args[1])
                if quant_type is not None and kind is not None:
                    where = ascend.cite(path, decorator.lineno)
                    found.setdefault(kind, {}).setdefault(quant_type, where)
    return found


def quant_types(ascend: Tree) -> dict[str, Listed]:
    """Layer kind (``linear``, ``moe``, ``attention``) → the quant types it accepts."""
    mapped = _method_map(ascend)
    if mapped is not None:
        read = ascend.cite(ascend.root / QUANTIZATION / "utils.py")
        read += " (ASCEND_QUANTIZATION_METHOD_MAP)"
    else:
        mapped = _scheme_registry(ascend)
        read = f"{ascend.cite(ascend.root / QUANTIZATION / 'methods')} (@register_scheme)"
    return {
        kind: Listed(dict(sorted(mapped.get(kind, {}).items())), f"{read}, kind {kind!r}")
        for kind in KINDS
    }


def ascend_config_class(ascend: Tree) -> tuple[Path, ast.ClassDef] | None:
    """The class registered as the ``ascend`` quantization config, and its file."""
    resolver = Resolver(ascend)
    for path in ascend.py_files(QUANTIZATION):
        for node in parse(path).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and decorator.args):
                    continue
                if last_name(decorator.func) != "register_quantization_config":
                    continue
                value = string(decorator.args[0])
                if value is None and isinstance(decorator.args[0], ast.Name):
                    definition = resolver.find(path, decorator.args[0].id)
                    value = string(definition.node) if definition is not None else None
                if value == "ascend":
                    return path, node
    return None


def fused(ascend: Tree, model_type: str) -> dict[str, tuple[list[str], str]] | None:
    """module → (shard names, citation) for ``model_type`` (None: no mapping found)."""
    found = ascend_config_class(ascend)
    if found is None:
        return None
    path, _ = found
    for name, value, _ in assignments(parse(path).body):
        if name != "packed_modules_model_mapping" or not isinstance(value, ast.Dict):
            continue
        for key, mapping in zip(value.keys, value.values, strict=True):
            if string(key) != model_type or not isinstance(mapping, ast.Dict):
                continue
            return {
                module: (strings(members), ascend.cite(path, getattr(k, "lineno", 0)))
                for k, members in zip(mapping.keys, mapping.values, strict=True)
                if (module := string(k)) is not None
            }
        return {}
    return None


def model_dtypes(ascend: Tree) -> Listed | None:
    """The floating-point dtypes the ``ascend`` config supports (None: not found)."""
    found = ascend_config_class(ascend)
    if found is None:
        return None
    path, cls = found
    read = f"{ascend.cite(path)} ({cls.name}.get_supported_act_dtypes)"
    for item in cls.body:
        if not (isinstance(item, ast.FunctionDef) and item.name == "get_supported_act_dtypes"):
            continue
        for node in ast.walk(item):
            if isinstance(node, ast.Return) and isinstance(node.value, (ast.List, ast.Tuple)):
                names = {}
                for element in node.value.elts:
                    parts = dotted(element)
                    if len(parts) == 2 and parts[0] == "torch" and parts[1] in FLOAT_DTYPES:
                        names[parts[1]] = ascend.cite(path, element.lineno)
                return Listed(dict(sorted(names.items())), read)
    return None
