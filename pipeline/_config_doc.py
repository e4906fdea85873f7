"""Renders docs/config.md from the Settings class, so the documented variables cannot drift.

`python -m pipeline._config_doc > docs/config.md` (or `make docs`) rewrites it; a test compares.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

from pipeline import config
from pipeline.generated import mark_markdown

COMMAND = "make docs"
_HEADER = """# Configuration

Every setting is an environment variable, read once by `Settings.from_env()` in pipeline/config.py
(the only code that reads the environment). `aisle config` prints the effective values and warns
about `AISLE_*` variables it does not know. This page is generated from pipeline/config.py by
`make docs`; a test fails when they differ.

| variable | default | meaning |
|---|---|---|
"""


def _field_docs() -> dict[str, str]:
    """Field name -> the docstring under it, from the source of Settings."""
    tree = ast.parse(inspect.getsource(config.Settings))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _default(field: dataclasses.Field[object]) -> str:
    value = field.default
    if isinstance(value, Path):
        repo = Path(config.__file__).resolve().parent.parent
        try:
            return f"`<repo>/{value.relative_to(repo)}`"
        except ValueError:
            return f"`<repo>/../{value.relative_to(repo.parent)}`"
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    return f"`{value}`"


def render() -> str:
    docs = _field_docs()
    rows = []
    for field in dataclasses.fields(config.Settings):
        if field.name == "extra":
            continue
        variable = config.env_var_name(field.name)
        meaning = docs.get(field.name, "")
        meaning = meaning.removeprefix(f"{variable}:").strip()
        rows.append(f"| `{variable}` | {_default(field)} | {meaning} |")
    return mark_markdown(_HEADER + "\n".join(rows) + "\n", COMMAND)


if __name__ == "__main__":
    print(render(), end="")
