"""Where the contracts are read from in a checkout, and what pyproject.toml puts in the wheel.

tests/packaging/test_wheel.py checks the other half: the installed wheel reads its own copy.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pipeline import contracts, schemas, topics

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    return table


def test_a_checkout_reads_the_contracts_at_the_repository_root() -> None:
    assert not (ROOT / "pipeline" / "_contracts").exists(), "pipeline/_contracts/ would hide the root folders"
    assert contracts.ROOT == ROOT
    assert contracts.SCHEMAS_DIR == ROOT / "schemas" and contracts.TOPICS_FILE == ROOT / "topics" / "topics.toml"
    assert schemas.default_registry().get("UserTurn").current
    assert [spec.name for spec in topics.load_topics(1)] == list(tomllib.loads(contracts.TOPICS_FILE.read_text()))


def test_the_wheel_lists_every_package_folder_and_the_contract_folders() -> None:
    setuptools = _setuptools()
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pipeline").rglob("__init__.py")}
    mapped = set(setuptools["package-dir"])
    assert set(setuptools["packages"]) == folders | mapped, "pyproject.toml's packages differ from pipeline/'s folders"
    assert {package.rpartition(".")[0] for package in mapped} == {"pipeline._contracts"}
    assert sorted(setuptools["package-dir"].values()) == ["schemas", "topics"]


def test_the_wheel_carries_every_file_of_the_contract_folders() -> None:
    setuptools = _setuptools()
    for package, folder in setuptools["package-dir"].items():
        source = ROOT / folder
        carried = {path for pattern in setuptools["package-data"][package] for path in source.glob(pattern)}
        present = {path for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts}
        assert present and carried == present, f"{folder}/ holds files the wheel leaves out: {sorted(present - carried)}"
