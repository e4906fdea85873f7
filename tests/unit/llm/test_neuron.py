"""The Neuron config: the shipped file renders to an exact command; bad configs are refused by key."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.llm.neuron import load_config, main, parse_config, render_command

SHIPPED = Path(__file__).resolve().parents[3] / "infra" / "neuron" / "neuron.toml"

SAMPLE: dict[str, Any] = {
    "model": {"path": "/models/llama", "served_names": ["aisle-large", "llama"], "dtype": "bfloat16"},
    "server": {"host": "0.0.0.0", "port": 8001},
    "parallel": {"tensor_parallel_degree": 2},
    "batching": {
        "continuous_batching": True,
        "max_num_seqs": 4,
        "max_model_len": 2048,
        "max_num_batched_tokens": 1024,
        "prefill_token_buckets": [256, 1024],
        "decode_batch_buckets": [1, 4],
        "enable_prefix_caching": False,
    },
    "compile": {"cache_dir": "/cache", "remote_cache_dir": "/mnt/fsx/neff"},
    "speculative": {"method": "eagle3", "draft_model": "/models/eagle3", "num_speculative_tokens": 3},
}


def with_value(key: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    section, name = key.split(".")
    data[section][name] = value
    return data


def test_sample_renders_to_the_exact_command() -> None:
    command = render_command(parse_config(SAMPLE), python="/opt/venv/bin/python")
    assert command.argv == (
        "/opt/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server",
        "--model", "/models/llama",
        "--served-model-name", "aisle-large", "llama",
        "--host", "0.0.0.0",
        "--port", "8001",
        "--dtype", "bfloat16",
        "--tensor-parallel-size", "2",
        "--max-num-seqs", "4",
        "--max-model-len", "2048",
        "--max-num-batched-tokens", "1024",
        "--no-enable-prefix-caching",
        "--structured-outputs-config", '{"backend":"xgrammar","disable_any_whitespace":true}',
        "--additional-config", '{"neuron_config":{"num_batched_tokens_buckets":[256,1024],"num_seqs_buckets":[1,4]}}',
        "--speculative-config", '{"method":"eagle3","model":"/models/eagle3","num_speculative_tokens":3}',
    )  # fmt: skip
    assert command.env == (
        ("VLLM_CACHE_ROOT", "/cache"),
        ("VLLM_NO_USAGE_STATS", "1"),
        ("VLLM_DO_NOT_TRACK", "1"),
        ("NEURON_LIBTORCH_REMOTE_CACHE", "/mnt/fsx/neff"),
    )


def test_shell_line_round_trips_through_a_shell_parser() -> None:
    command = render_command(parse_config(SAMPLE))
    words = shlex.split(command.shell_line())
    assert words[0] == "env"
    assert words[1:5] == [f"{k}={v}" for k, v in command.env]
    assert tuple(words[5:]) == command.argv


def test_ngram_and_no_speculation() -> None:
    ngram = with_value("speculative.method", "ngram")
    ngram["speculative"]["draft_model"] = ""
    argv = render_command(parse_config(ngram)).argv
    assert argv[-2:] == (
        "--speculative-config",
        '{"method":"ngram","num_speculative_tokens":3,"prompt_lookup_max":3,"prompt_lookup_min":2}',
    )
    plain = copy.deepcopy(SAMPLE)
    del plain["speculative"]
    assert "--speculative-config" not in render_command(parse_config(plain)).argv


def test_shipped_config_loads_and_renders(capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(SHIPPED)
    assert config.prefill_token_buckets[-1] == config.max_num_batched_tokens
    assert main([str(SHIPPED)]) == 0
    line = capsys.readouterr().out.strip()
    assert shlex.split(line)[-len(render_command(config).argv) :] == list(render_command(config).argv)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model.path", "relative/dir", "model.path must be an absolute folder"),
        ("model.served_names", [], "model.served_names must be a non-empty list"),
        ("model.served_names", ["a b"], "without spaces"),
        ("model.served_names", ["a", "a"], "lists a name twice"),
        ("model.dtype", "float32", "model.dtype must be one of"),
        ("server.port", 70000, "server.port must be an integer in 1..65535"),
        ("server.port", "8000", "server.port must be an integer"),
        ("parallel.tensor_parallel_degree", 3, "parallel.tensor_parallel_degree must be one of"),
        ("batching.max_num_seqs", 0, "batching.max_num_seqs must be an integer >= 1"),
        ("batching.max_num_seqs", True, "batching.max_num_seqs must be an integer"),
        ("batching.continuous_batching", "yes", "must be true or false"),
        ("batching.prefill_token_buckets", [1024, 256], "strictly ascending"),
        ("batching.prefill_token_buckets", [256, 512], "must equal batching.max_num_batched_tokens (1024)"),
        ("batching.decode_batch_buckets", [1, 2], "must equal batching.max_num_seqs (4)"),
        ("batching.decode_batch_buckets", [0, 4], "positive integers"),
        ("compile.cache_dir", "cache", "compile.cache_dir must be an absolute path"),
        ("speculative.method", "medusa", "speculative.method must be one of"),
        ("speculative.draft_model", "", "needs speculative.draft_model"),
        ("speculative.num_speculative_tokens", 40, "in 1..16"),
    ],
)
def test_bad_values_are_refused_with_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(with_value(key, value))


def test_sequential_batching_needs_one_sequence() -> None:
    data = with_value("batching.continuous_batching", False)
    with pytest.raises(ConfigError, match="max_num_seqs must be 1"):
        parse_config(data)
    data["batching"].update(max_num_seqs=1, decode_batch_buckets=[1])
    argv = render_command(parse_config(data)).argv
    assert argv[argv.index("--max-num-seqs") + 1] == "1"


def test_unknown_and_missing_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[batching\]: max_num_seq"):
        parse_config(with_value("batching.max_num_seq", 4))
    with pytest.raises(ConfigError, match=r"unknown section \[modle\]"):
        parse_config({**SAMPLE, "modle": {}})
    data = copy.deepcopy(SAMPLE)
    del data["compile"]
    with pytest.raises(ConfigError, match=r"missing section\(s\): \[compile\]"):
        parse_config(data)
    del data["server"]["port"]
    data["compile"] = SAMPLE["compile"]
    with pytest.raises(ConfigError, match="server.port is required"):
        parse_config(data)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "neuron.toml"
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    assert main([str(bad)]) == 2
