from pathlib import Path

import pytest

from pipeline import _config_doc
from pipeline.config import Settings
from pipeline.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_environment_overrides_defaults_with_typed_values() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "AISLE_MAX_LANES": "7",
                                  "AISLE_CONNECT_RETRY_MAX_S": "1.5", "AISLE_HOME": "/tmp/x"})
    assert settings.kafka_bootstrap_servers == "k:1"
    assert settings.max_lanes == 7 and settings.connect_retry_max_s == 1.5
    assert settings.home == Path("/tmp/x") and settings.kafka_dir == Path("/tmp/x/kafka")
    assert Settings.from_env({}) == Settings()


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="AISLE_MAX_LANES='many'"):
        Settings.from_env({"AISLE_MAX_LANES": "many"})


def test_unknown_aisle_variables_are_kept_for_a_warning() -> None:
    assert dict(Settings.from_env({"AISLE_MAX_LANE": "3"}).extra) == {"AISLE_MAX_LANE": "3"}


def test_topic_names_get_the_prefix() -> None:
    assert Settings(topic_prefix="t.").topic("requests") == "t.requests"


def test_every_setting_is_documented_and_the_page_is_current() -> None:
    rendered = _config_doc.render()
    assert "| `AISLE_PLANNER_DEADLINE_MS` | `300` |" in rendered
    assert all(row.count("|") == 4 and not row.endswith("|  |") for row in rendered.splitlines() if row.startswith("| `"))
    assert DOCS.read_text() == rendered, "docs/config.md is stale: run `make docs`"


def test_the_router_names_follow_the_local_model_unless_set() -> None:
    from pipeline.config import Settings
    assert Settings().llm_model_small == Settings().llm_model_large == "aisle-shop-135m"
    base = Settings.from_env({"AISLE_LLM_MODEL": "smollm2-135m-instruct"})
    assert (base.llm_model_small, base.llm_model_large) == ("smollm2-135m-instruct", "smollm2-135m-instruct")
    split = Settings.from_env({"AISLE_LLM_MODEL_LARGE": "big"})
    assert (split.llm_model_small, split.llm_model_large) == ("aisle-shop-135m", "big")


def test_aisle_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli

    monkeypatch.setenv("AISLE_SESSION_SECRET", "hunter2-very-secret")
    result = CliRunner().invoke(cli, ["config"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    row = next(line for line in result.output.splitlines() if "AISLE_SESSION_SECRET" in line)
    assert "set, hidden" in row
    assert "AISLE_MAX_LANES" in result.output and "512" in result.output


def test_display_says_when_a_secret_is_unset() -> None:
    shown = dict(Settings().display())
    assert shown["AISLE_SESSION_SECRET"] == "(empty)"
    assert dict(Settings(session_secret="s3cr3t").display())["AISLE_SESSION_SECRET"] == "(set, hidden)"
    assert shown["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"


@pytest.mark.parametrize(("replication", "min_insync", "expected"), [(1, 0, 1), (2, 0, 1), (3, 0, 2), (3, 3, 3), (5, 2, 2)])
def test_min_insync_replicas_defaults_to_one_less_than_the_replication_factor(
        replication: int, min_insync: int, expected: int) -> None:
    settings = Settings.from_env({"AISLE_REPLICATION_FACTOR": str(replication),
                                  "AISLE_MIN_INSYNC_REPLICAS": str(min_insync)})
    assert settings.topic_min_insync_replicas == expected


@pytest.mark.parametrize(("replication", "min_insync"), [(3, 4), (1, -1), (0, 0)])
def test_min_insync_replicas_that_no_write_could_meet_are_refused(replication: int, min_insync: int) -> None:
    settings = Settings.from_env({"AISLE_REPLICATION_FACTOR": str(replication),
                                  "AISLE_MIN_INSYNC_REPLICAS": str(min_insync)})
    with pytest.raises(ConfigError, match="AISLE_"):
        settings.topic_min_insync_replicas
