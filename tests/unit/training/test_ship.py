import importlib.util
import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.training.ship import ship


def test_a_run_without_a_finished_adapter_is_refused_with_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="adapter_model.safetensors, aisle-training.json"):
        ship(tmp_path, tmp_path / "out")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is in the vLLM venv (infra/vllm/.venv), where training runs, not the project's")
def test_the_adapter_is_cast_to_bfloat16_and_its_files_copied(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    save_file({"lora_A": torch.full((2, 3), 0.1), "steps": torch.tensor([3])}, adapter / "adapter_model.safetensors")
    for name in ("adapter_config.json", "aisle-training.json"):
        (adapter / name).write_text(json.dumps({"name": name}))
    (tmp_path / "run" / "loss.jsonl").write_text('{"step": 1}\n')
    out = ship(tmp_path / "run", tmp_path / "shipped")
    weights = load_file(out / "adapter_model.safetensors")
    assert weights["lora_A"].dtype == torch.bfloat16 and weights["steps"].dtype == torch.int64
    assert torch.allclose(weights["lora_A"].float(), torch.full((2, 3), 0.1), atol=1e-3)
    assert json.loads((out / "aisle-training.json").read_text()) == {"name": "aisle-training.json"}
    assert (out / "loss.jsonl").read_text() == '{"step": 1}\n'
