"""Fields of the vLLM config dataclasses a launch sets or a profile rule names:
``--compilation-config`` (``CompilationConfig``, ``vllm/config/compilation.py``),
``--speculative-config`` (``SpeculativeConfig``) and ``--kv-transfer-config``
(``KVTransferConfig``); inherited and ``init=False`` fields as :func:`dataclass_fields`
says. For a field typed by an ``enum.Enum`` of the sources (``cudagraph_mode:
CUDAGraphMode``) the member names a string value may take."""

from __future__ import annotations

import ast

from tests.provenance.extract._ast import Resolver, Tree, atoms, dataclass_fields, last_name
from tests.provenance.extract.facts import Listed

CONFIGS = {
    "compilation_config": ("vllm/config/compilation.py", "CompilationConfig"),
    "speculative_config": ("vllm/config/speculative.py", "SpeculativeConfig"),
    "kv_transfer_config": ("vllm/config/kv_transfer.py", "KVTransferConfig"),
}


def config_fields(vllm: Tree, relative: str, name: str) -> tuple[Listed, dict[str, Listed]]:
    """The fields of class ``name`` in ``relative``, and the members of its enum fields."""
    resolver = Resolver(vllm)
    path = vllm.root / relative
    read = f"{vllm.cite(path)} ({name})"
    definition = resolver.find_class(path, name) if path.is_file() else None
    if definition is None or not isinstance(definition.node, ast.ClassDef):
        return Listed({}, read), {}
    fields: dict[str, str] = {}
    members: dict[str, Listed] = {}
    for entry in dataclass_fields(resolver, definition.path, definition.node):
        fields[entry.name] = vllm.cite(entry.path, entry.line)
        for atom in atoms(resolver, entry.path, entry.annotation):
            if atom.kind != "class" or atom.path is None:
                continue
            enum = resolver.find_class(atom.path, atom.value)
            if enum is None or not isinstance(enum.node, ast.ClassDef):
                continue
            if not any(last_name(b) in ("Enum", "IntEnum", "StrEnum") for b in enum.node.bases):
                continue
            names = {
                t.id: vllm.cite(enum.path, s.lineno)
                for s in enum.node.body
                if isinstance(s, ast.Assign)
                for t in s.targets
                if isinstance(t, ast.Name) and not t.id.startswith("_")
            }
            members[entry.name] = Listed(names, f"{vllm.cite(enum.path)} ({atom.value})")
    return Listed(dict(sorted(fields.items())), read), members


def compilation_fields(vllm: Tree) -> tuple[Listed, dict[str, Listed]]:
    """Every ``CompilationConfig`` field, and the members of each enum-typed field."""
    return config_fields(vllm, *CONFIGS["compilation_config"])


def configs(vllm: Tree) -> dict[str, Listed]:
    """Root of a setting path (``speculative_config``) → the fields of its config class."""
    return {root: config_fields(vllm, *where)[0] for root, where in CONFIGS.items()}
