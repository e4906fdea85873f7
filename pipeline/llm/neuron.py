"""The Neuron serving config (infra/neuron/neuron.toml): validation and the exact launch command.

vLLM on Inferentia2/Trainium runs through the vLLM Neuron platform plugin; everything Neuron-specific
goes into `--additional-config '{"neuron_config": {...}}'`, the rest are ordinary vLLM flags. Neuron
runs only shapes compiled ahead of time, so the config names its prefill and decode buckets, and the
largest of each must equal the limit vLLM schedules up to.

UNTESTED ON HARDWARE: the rendering below is tested; the command has not been run on a Neuron host.

    python -m pipeline.llm.neuron [--python PY] CONFIG     prints the command as one shell line
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

SPECULATIVE_METHODS = ("none", "eagle3", "ngram")
DTYPES = ("bfloat16", "float16")
TENSOR_PARALLEL_DEGREES = (1, 2, 4, 8, 16, 32, 64)
# Same server-side flag as the CPU server: per-request whitespace settings are ignored by vLLM.
STRUCTURED_OUTPUTS = '{"backend":"xgrammar","disable_any_whitespace":true}'

_SECTIONS: dict[str, frozenset[str]] = {
    "model": frozenset({"path", "served_names", "dtype"}),
    "server": frozenset({"host", "port"}),
    "parallel": frozenset({"tensor_parallel_degree"}),
    "batching": frozenset(
        {
            "continuous_batching",
            "max_num_seqs",
            "max_model_len",
            "max_num_batched_tokens",
            "prefill_token_buckets",
            "decode_batch_buckets",
            "enable_prefix_caching",
        }
    ),
    "compile": frozenset({"cache_dir", "remote_cache_dir"}),
    "speculative": frozenset({"method", "draft_model", "num_speculative_tokens"}),
}
_OPTIONAL_SECTIONS = frozenset({"speculative"})


@dataclass(frozen=True)
class NeuronConfig:
    model_path: str
    served_names: tuple[str, ...]
    dtype: str
    host: str
    port: int
    tensor_parallel_degree: int
    continuous_batching: bool
    max_num_seqs: int
    max_model_len: int
    """Prompt + completion, tokens."""
    max_num_batched_tokens: int
    prefill_token_buckets: tuple[int, ...]
    """Prompt lengths (tokens) compiled for prefill; ascending."""
    decode_batch_buckets: tuple[int, ...]
    """Batch sizes compiled for decode; ascending."""
    enable_prefix_caching: bool
    cache_dir: str
    remote_cache_dir: str
    speculative_method: str = "none"
    draft_model: str = ""
    num_speculative_tokens: int = 4


@dataclass(frozen=True)
class LaunchCommand:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    """Variables to set on top of the caller's environment, in a fixed order."""

    def shell_line(self) -> str:
        """`env K=V ... argv...`, each word quoted for a POSIX shell."""
        words = ["env", *(f"{k}={v}" for k, v in self.env), *self.argv]
        return " ".join(shlex.quote(w) for w in words)


def load_config(path: Path) -> NeuronConfig:
    """Reads and validates a TOML config; raises ConfigError naming the file and the bad key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read Neuron config {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def parse_config(data: Mapping[str, Any]) -> NeuronConfig:
    """Validates a parsed config; raises ConfigError with the dotted key (e.g. `batching.max_num_seqs`)."""
    _reject_unknown_keys(data)
    r = _Reader(data)
    config = NeuronConfig(
        model_path=r.text("model.path"),
        served_names=r.names("model.served_names"),
        dtype=r.one_of("model.dtype", DTYPES),
        host=r.text("server.host"),
        port=r.integer("server.port", low=1, high=65535),
        tensor_parallel_degree=r.one_of("parallel.tensor_parallel_degree", TENSOR_PARALLEL_DEGREES),
        continuous_batching=r.flag("batching.continuous_batching"),
        max_num_seqs=r.integer("batching.max_num_seqs", low=1),
        max_model_len=r.integer("batching.max_model_len", low=1),
        max_num_batched_tokens=r.integer("batching.max_num_batched_tokens", low=1),
        prefill_token_buckets=r.buckets("batching.prefill_token_buckets"),
        decode_batch_buckets=r.buckets("batching.decode_batch_buckets"),
        enable_prefix_caching=r.flag("batching.enable_prefix_caching"),
        cache_dir=r.text("compile.cache_dir"),
        remote_cache_dir=r.text("compile.remote_cache_dir", allow_empty=True),
        speculative_method=r.one_of("speculative.method", SPECULATIVE_METHODS, default="none"),
        draft_model=r.text("speculative.draft_model", allow_empty=True, default=""),
        num_speculative_tokens=r.integer("speculative.num_speculative_tokens", low=1, high=16, default=4),
    )
    _check_consistency(config)
    return config


def render_command(config: NeuronConfig, python: str = "python3") -> LaunchCommand:
    """The exact argv and environment that start the server for `config` (pure)."""
    neuron_config = {
        "num_batched_tokens_buckets": list(config.prefill_token_buckets),
        "num_seqs_buckets": list(config.decode_batch_buckets),
    }
    argv = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", config.model_path,
        "--served-model-name", *config.served_names,
        "--host", config.host,
        "--port", str(config.port),
        "--dtype", config.dtype,
        "--tensor-parallel-size", str(config.tensor_parallel_degree),
        "--max-num-seqs", str(config.max_num_seqs),
        "--max-model-len", str(config.max_model_len),
        "--max-num-batched-tokens", str(config.max_num_batched_tokens),
        "--enable-prefix-caching" if config.enable_prefix_caching else "--no-enable-prefix-caching",
        "--structured-outputs-config", STRUCTURED_OUTPUTS,
        "--additional-config", _compact_json({"neuron_config": neuron_config}),
    ]  # fmt: skip
    speculative = _speculative_config(config)
    if speculative is not None:
        argv += ["--speculative-config", _compact_json(speculative)]
    env = [("VLLM_CACHE_ROOT", config.cache_dir), ("VLLM_NO_USAGE_STATS", "1"), ("VLLM_DO_NOT_TRACK", "1")]
    if config.remote_cache_dir:
        env.append(("NEURON_LIBTORCH_REMOTE_CACHE", config.remote_cache_dir))
    return LaunchCommand(argv=tuple(argv), env=tuple(env))


def _speculative_config(config: NeuronConfig) -> dict[str, Any] | None:
    k = config.num_speculative_tokens
    if config.speculative_method == "eagle3":
        return {"method": "eagle3", "model": config.draft_model, "num_speculative_tokens": k}
    if config.speculative_method == "ngram":
        return {"method": "ngram", "num_speculative_tokens": k, "prompt_lookup_max": k, "prompt_lookup_min": 2}
    return None


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _check_consistency(c: NeuronConfig) -> None:
    if not c.model_path.startswith("/"):
        raise ConfigError(f"model.path must be an absolute folder on the Neuron host, got {c.model_path!r}")
    if not c.cache_dir.startswith("/"):
        raise ConfigError(f"compile.cache_dir must be an absolute path, got {c.cache_dir!r}")
    if not c.continuous_batching and c.max_num_seqs != 1:
        raise ConfigError(
            f"batching.continuous_batching = false serves one sequence at a time, "
            f"so batching.max_num_seqs must be 1 (got {c.max_num_seqs})"
        )
    if c.prefill_token_buckets[-1] != c.max_num_batched_tokens:
        raise ConfigError(
            f"the largest batching.prefill_token_buckets entry ({c.prefill_token_buckets[-1]}) must equal "
            f"batching.max_num_batched_tokens ({c.max_num_batched_tokens})"
        )
    if c.decode_batch_buckets[-1] != c.max_num_seqs:
        raise ConfigError(
            f"the largest batching.decode_batch_buckets entry ({c.decode_batch_buckets[-1]}) must equal "
            f"batching.max_num_seqs ({c.max_num_seqs})"
        )
    if c.speculative_method == "eagle3" and not c.draft_model.startswith("/"):
        raise ConfigError("speculative.method = 'eagle3' needs speculative.draft_model, an absolute folder")
    if c.speculative_method != "eagle3" and c.draft_model:
        raise ConfigError(f"speculative.draft_model is only used with method 'eagle3', not {c.speculative_method!r}")


def _reject_unknown_keys(data: Mapping[str, Any]) -> None:
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"unknown section [{section}]; expected one of {sorted(_SECTIONS)}")
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{section}] must be a table")
        unknown = set(value) - _SECTIONS[section]
        if unknown:
            raise ConfigError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}")
    missing = set(_SECTIONS) - _OPTIONAL_SECTIONS - set(data)
    if missing:
        raise ConfigError(f"missing section(s): {', '.join(f'[{m}]' for m in sorted(missing))}")


_MISSING = object()


class _Reader:
    """Typed access to `section.key` values; every error names the key."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def _get(self, key: str, default: object = _MISSING) -> object:
        section, name = key.split(".")
        table = self._data.get(section, {})
        if name in table:
            return table[name]
        if default is _MISSING:
            raise ConfigError(f"{key} is required")
        return default

    def text(self, key: str, *, allow_empty: bool = False, default: object = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise ConfigError(f"{key} must be a non-empty string, got {value!r}")
        return value

    def integer(self, key: str, *, low: int, high: int | None = None, default: object = _MISSING) -> int:
        value = self._get(key, default)
        # bool is an int subclass: `true` must not pass as 1.
        if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in {low}..{high}"
            raise ConfigError(f"{key} must be an integer {bounds}, got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value

    def one_of(self, key: str, allowed: Sequence[Any], default: object = _MISSING) -> Any:
        value = self._get(key, default)
        if isinstance(value, bool) or value not in allowed:
            raise ConfigError(f"{key} must be one of {list(allowed)}, got {value!r}")
        return value

    def names(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v and not any(ch.isspace() for ch in v) for v in value)
        ):
            raise ConfigError(f"{key} must be a non-empty list of names without spaces, got {value!r}")
        if len(set(value)) != len(value):
            raise ConfigError(f"{key} lists a name twice: {value!r}")
        return tuple(value)

    def buckets(self, key: str) -> tuple[int, ...]:
        value = self._get(key)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        ):
            raise ConfigError(f"{key} must be a non-empty list of positive integers, got {value!r}")
        if any(a >= b for a, b in zip(value, value[1:])):
            raise ConfigError(f"{key} must be strictly ascending, got {value!r}")
        return tuple(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.llm.neuron", description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--python", default="python3", help="interpreter on the Neuron host that has vLLM")
    args = parser.parse_args(argv)
    try:
        command = render_command(load_config(args.config), python=args.python)
    except ConfigError as exc:
        print(f"neuron: {exc}", file=sys.stderr)
        return 2
    print(command.shell_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
