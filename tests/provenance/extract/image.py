"""What the release's image is built from, and the environment variables its code reads.

- ``vllm_ascend``: ``Version:`` of the sdist's ``PKG-INFO``.
- ``vllm``: ``ARG VLLM_TAG=v<version>`` of its ``Dockerfile`` (the vLLM the image builds).
- ``cann``, ``python``: the ``Dockerfile``'s base image,
  ``FROM …/cann:<cann>-<soc>-<os>-py<python>``.
- Environment variables read: the keys of vLLM's ``environment_variables``
  (``vllm/envs.py``) and vllm-ascend's ``env_variables`` (``vllm_ascend/envs.py``), and any
  name read literally through ``os.getenv`` / ``os.environ.get`` / ``os.environ[…]`` in
  either package (only ``VLLM_*`` names are judged: HCCL, torch and OpenMP variables are
  read by neither).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from tests.provenance.extract._ast import Tree, assignments, dotted, parse, string
from tests.provenance.extract.facts import Image

BASE_IMAGE = re.compile(r"^FROM\s+\S*/cann:(?P<cann>[^-\s]+)-\S*?-py(?P<python>[0-9.]+)\b")
VLLM_TAG = re.compile(r"^ARG\s+VLLM_TAG=[\"']?v?(?P<tag>[^\"'\s]+)")
ENV_TABLES = (("vllm/envs.py", "environment_variables"), ("vllm_ascend/envs.py", "env_variables"))


def image(ascend: Tree) -> Image:
    at: dict[str, str] = {}
    values: dict[str, str] = {}
    pkg_info = ascend.root / "PKG-INFO"
    for number, line in enumerate(pkg_info.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("Version: "):
            values["vllm_ascend"], at["vllm_ascend"] = (
                line[9:].strip(),
                ascend.cite(pkg_info, number),
            )
            break
    dockerfile = ascend.root / "Dockerfile"
    for number, line in enumerate(dockerfile.read_text(encoding="utf-8").splitlines(), 1):
        base = BASE_IMAGE.match(line.strip())
        if base and "cann" not in values:
            values["cann"], values["python"] = base["cann"], base["python"]
            at["cann"] = at["python"] = ascend.cite(dockerfile, number)
        tag = VLLM_TAG.match(line.strip())
        if tag and "vllm" not in values:
            values["vllm"], at["vllm"] = tag["tag"], ascend.cite(dockerfile, number)
    return Image(
        vllm_ascend=values.get("vllm_ascend", ""),
        vllm=values.get("vllm", ""),
        cann=values.get("cann", ""),
        python=values.get("python", ""),
        at=at,
    )


def _table(tree: Tree, relative: str, name: str) -> dict[str, str]:
    path = tree.root / relative
    if not path.is_file():
        return {}
    for target, value, _ in assignments(parse(path).body):
        if target == name and isinstance(value, ast.Dict):
            return {
                key: tree.cite(path, node.lineno)
                for node in value.keys
                if node is not None and (key := string(node)) is not None
            }
    return {}


@cache
def _texts(tree: Tree, package: str) -> tuple[tuple[Path, str], ...]:
    return tuple((p, p.read_text(encoding="utf-8")) for p in tree.py_files(package))


def _read_literally(tree: Tree, package: str, name: str) -> str | None:
    """Where ``package`` reads ``name`` with ``os.getenv``/``os.environ…`` (None: nowhere)."""
    quoted = (f'"{name}"', f"'{name}'")
    for path, text in _texts(tree, package):
        if not any(q in text for q in quoted):
            continue
        for node in ast.walk(parse(path)):
            getter = (
                isinstance(node, ast.Call)
                and bool(node.args)
                and string(node.args[0]) == name
                and dotted(node.func)[-2:] in (["os", "getenv"], ["environ", "get"])
            )
            indexed = (
                isinstance(node, ast.Subscript)
                and string(node.slice) == name
                and dotted(node.value)[-1:] == ["environ"]
            )
            if getter or indexed:
                return tree.cite(path, getattr(node, "lineno", 0))
    return None


def env_read(vllm: Tree, ascend: Tree, name: str) -> str | None:
    """Where vLLM or vllm-ascend reads the environment variable ``name`` (None: neither)."""
    for tree, (relative, table) in zip((vllm, ascend), ENV_TABLES, strict=True):
        found = _table(tree, relative, table).get(name)
        if found:
            return found
    for tree, package in ((vllm, "vllm"), (ascend, "vllm_ascend")):
        found = _read_literally(tree, package, name)
        if found:
            return found
    return None
