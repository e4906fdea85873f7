"""infra/prometheus/prometheus.yml and infra/grafana/aisle-dashboard.json, checked against the code: every
scrape target is a port the defaults use, every panel queries families the code registers (or vLLM's
that `aisle status` reads too), with labels those families have. Neither file is run here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from pipeline.config import Settings
from pipeline.gateway.hub import Hub, HubLimits
from pipeline.gateway.metrics import GatewayCounters, GatewayMetrics
from pipeline.runtime.metrics import worker_metrics_port
from pipeline.runtime.service import STAGES
from pipeline.runtime.worker import StageWorker
from pipeline.scrape import VLLM_METRICS
from tests.unit.runtime.test_worker import SETTINGS, Echo

INFRA = Path(__file__).resolve().parents[2] / "infra"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
METRIC = re.compile(r"\b(?:aisle_|process_)[a-z0-9_]+|\bvllm:[a-z0-9_:]+")


def registered() -> dict[str, set[str]]:
    """Every sample name a worker's and the gateway's registries can export -> its label names."""
    worker = StageWorker(Echo(), SETTINGS)
    limits = HubLimits(send_queue_frames=1, resume_frames=1, resume_age_s=1.0, resume_conversations=1)
    gateway = GatewayMetrics(Hub(limits), GatewayCounters())
    names: dict[str, set[str]] = {}
    for registry in (worker.metrics.registry, gateway.registry):
        for family in registry.collect():
            labels = {label for sample in family.samples for label in sample.labels}
            if family.name == "aisle_stage_dead_letters":
                labels |= {"stage", "reason"}  # no series until the first dead letter
            for suffix in SUFFIXES.get(family.type, ("",)):
                names[family.name + suffix] = labels
    for name in VLLM_METRICS:  # vLLM's own page, linked, not registered by Aisle
        for suffix in ("", "_bucket", "_sum", "_count"):
            names[name + suffix] = {"model_name", "engine"}
    return names


def panels() -> list[dict[str, Any]]:
    dashboard = json.loads((INFRA / "grafana" / "aisle-dashboard.json").read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_every_panel_queries_registered_families_by_their_labels() -> None:
    known = registered()
    assert "aisle_stage_processing_seconds_bucket" in known and "aisle_gateway_errors_total" in known
    found = panels()
    assert len({p["id"] for p in found}) == len(found)
    for panel in found:
        assert panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            names = METRIC.findall(expr)
            assert names, f"{panel['title']}: {expr} names no metric"
            unknown = [n for n in names if n not in known]
            assert not unknown, f"{panel['title']}: {unknown} are not registered by the code"
            labels = set().union(*(known[n] for n in names)) | {"le"}
            for group in re.findall(r"\bby \(([^)]*)\)", expr):
                missing = {label.strip() for label in group.split(",")} - labels
                assert not missing, f"{panel['title']}: grouped by {missing}, which {names} do not carry"


def test_the_dashboard_shows_latency_per_stage_lag_dead_letters_and_retries() -> None:
    exprs = " ".join(t["expr"] for p in panels() for t in p["targets"])
    for family in ["aisle_stage_processing_seconds_bucket", "aisle_stage_queue_wait_seconds",
                   "aisle_stage_first_output_seconds", "aisle_stage_consumer_lag",
                   "aisle_stage_dead_letters_total", "aisle_stage_retries_total"]:
        assert family in exprs, family
    assert "by (stage, le)" in exprs and "by (stage, reason)" in exprs


def test_every_scrape_target_matches_the_default_ports() -> None:
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    defaults = Settings()
    jobs: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host == defaults.metrics_host
                jobs.setdefault(job["job_name"], []).append((int(port), static.get("labels", {})))
    workers = {labels["component"]: port for port, labels in jobs.pop("aisle-workers")}
    assert workers == {stage: worker_metrics_port(defaults, stage) for stage in STAGES}
    assert jobs.pop("aisle-gateway") == [(defaults.gateway_port, {})]
    assert jobs.pop("vllm") == [(urlparse(defaults.llm_url).port, {})]
    assert jobs == {}
    # A target label named like a metric label would be renamed exported_<label> and break the panels.
    assert all("stage" not in s.get("labels", {}) for j in config["scrape_configs"] for s in j["static_configs"])
