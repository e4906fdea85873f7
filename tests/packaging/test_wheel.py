"""The built wheel works: installed into a fresh virtual environment, it serves the web chat at `/`,
carries the files the package reads from beside its code (pyproject's package-data), and reads its
contracts (schemas/ with its history, topics/topics.toml) from the copy it carries.

The wheel is built from a copy of this checkout's files (tracked and untracked, not ignored: no stale
build/ folder can lend it a file) with `pip wheel` (without build isolation when the running
environment has a new enough setuptools, as `make setup` installs, so no index is needed) and
installed with --no-deps; its dependencies come from the running environment's site-packages,
added to the new environment as a plain path (no .pth processing, so an editable install of this
checkout stays out of it). The check runs in the new environment's interpreter from an empty folder
and asserts that `pipeline` and its contracts were read from the wheel, not from this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from importlib.metadata import version
from pathlib import Path

import pytest

from pipeline.schemas import load_registry
from pipeline.topics import load_topics

pytestmark = [pytest.mark.slow, pytest.mark.packaging]
REPO = Path(__file__).resolve().parents[2]

# Runs inside the new environment: serves `/` and `/static/chat.js` in-process (Starlette's test
# client, no lifespan, so no broker), loads the contracts the way the workers do (the default codec's
# registry, the default topic file) and reports what it found.
CHECK = """
import json, sys
from importlib.resources import files
from starlette.testclient import TestClient
import pipeline
from pipeline import contracts
from pipeline.codec import default_codec
from pipeline.config import Settings
from pipeline.gateway.app import create_app
from pipeline.topics import load_topics

client = TestClient(create_app(Settings.from_env({"AISLE_SESSION_SECRET": "wheel-test-secret-0123456789abcdef"})))
index, script = client.get("/"), client.get("/static/chat.js")
stopwords = files("pipeline.retrieval").joinpath("english_stopwords.txt")
registry = default_codec().registry
print(json.dumps({
    "package": pipeline.__file__,
    "index": [index.status_code, index.headers.get("content-type", ""), index.text],
    "script": [script.status_code, len(script.content)],
    "stopwords": stopwords.read_text(encoding="utf-8").split() if stopwords.is_file() else None,
    "needs": [p.name for p in files("pipeline.eval").joinpath("data").iterdir()],
    "contracts": [str(contracts.SCHEMAS_DIR), str(contracts.TOPICS_FILE)],
    "schemas": {s.name: [f"{v.fingerprint:016x}" for v in registry.versions(s.name)] for s in registry},
    "topics": [[t.name, t.key, t.value, t.cleanup] for t in load_topics(1)],
}))
"""


def _setuptools_builds_offline() -> bool:
    try:
        major = int(version("setuptools").split(".")[0])
    except Exception:  # noqa: BLE001 - not installed, or an odd version string: build isolated
        return False
    return major >= 77  # pyproject's build-system requirement


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without PYTHONPATH (it would put this checkout ahead of the wheel, and pip
    would take the checkout for the installed package) or Aisle's settings."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AISLE_")}
    return {**env, **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env or _clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtual environment with the wheel of this checkout installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO).split("\0"):
        if name and (REPO / name).is_file() and not (REPO / name).is_symlink():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)]
    if _setuptools_builds_offline():
        build.insert(4, "--no-build-isolation")
    _run(build, cwd=root)
    (wheel,) = (root / "dist").glob("aisle-*.whl")
    venv.EnvBuilder(with_pip=False).create(root / "env")
    python = root / "env" / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=root)
    # After the install: pip would otherwise see this checkout's editable install there and skip it.
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).strip())
    assert (site / "pipeline" / "__init__.py").is_file(), f"the wheel was not installed into {site}"
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "aisle_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    return python


def test_the_installed_wheel_serves_the_web_chat_and_carries_its_data(installed: Path, tmp_path: Path) -> None:
    env = _clean_env(AISLE_HOME=str(tmp_path / "home"))
    found = json.loads(_run([str(installed), "-c", CHECK], cwd=tmp_path, env=env).splitlines()[-1])
    assert Path(found["package"]).is_relative_to(installed.parent.parent), f"pipeline came from {found['package']}"
    status, content_type, body = found["index"]
    assert status == 200 and content_type.startswith("text/html"), found["index"][:2]
    assert body == (REPO / "pipeline" / "gateway" / "static" / "index.html").read_text(encoding="utf-8")
    assert found["script"] == [200, (REPO / "pipeline" / "gateway" / "static" / "chat.js").stat().st_size]
    assert found["stopwords"] == (REPO / "pipeline" / "retrieval" / "english_stopwords.txt").read_text().split()
    assert sorted(found["needs"]) == sorted(p.name for p in (REPO / "pipeline" / "eval" / "data").glob("*.jsonl"))
    env_root = installed.parent.parent
    assert all(Path(path).is_relative_to(env_root) for path in found["contracts"]), f"contracts from {found['contracts']}"
    expected = load_registry(REPO / "schemas")
    assert found["schemas"] == {
        s.name: [f"{v.fingerprint:016x}" for v in expected.versions(s.name)] for s in expected
    }, "the installed registry differs from schemas/ and schemas/history/"
    assert any(len(versions) > 1 for versions in found["schemas"].values()), "no schema has a version in history"
    assert found["topics"] == [
        [t.name, t.key, t.value, t.cleanup] for t in load_topics(1, REPO / "topics" / "topics.toml")
    ]
