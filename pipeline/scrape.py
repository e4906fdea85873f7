"""Reading /metrics pages back: the headline figures `aisle status` shows per worker, the gateway and vLLM.

Each page is parsed with prometheus-client's own parser; the figures are counts since the process
started, and latencies as the mean and the bucket that holds the 95th percentile ("p95 <= 250 ms"):
what a glance needs. Prometheus and the dashboard (infra/) give rates and windows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pipeline.config import Settings
from pipeline.runtime.metrics import worker_metrics_port

Samples = Mapping[str, list[tuple[dict[str, str], float]]]
"""Sample name (with its _total, _bucket, _sum or _count suffix) -> (labels, value) for each series."""

VLLM_METRICS: tuple[str, ...] = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:time_to_first_token_seconds",
)
"""The vLLM families `aisle status` and the dashboard read (vLLM 0.32's names; vLLM serves many more)."""

TIMEOUT_S = 1.0


def worker_metrics_url(settings: Settings, stage: str) -> str | None:
    """Where the worker of `stage` serves /metrics by default; None when it has no fixed port."""
    port = worker_metrics_port(settings, stage)
    return f"http://{settings.metrics_host}:{port}/metrics" if port else None


def gateway_metrics_url(settings: Settings) -> str:
    return f"http://{settings.gateway_host}:{settings.gateway_port}/metrics"


def llm_metrics_url(settings: Settings) -> str:
    """vLLM serves its own /metrics at the root of its server: AISLE_LLM_URL without the /v1."""
    return f"{settings.llm_url.rstrip('/').removesuffix('/v1')}/metrics"


def parse(text: str) -> Samples:
    """Every sample of a page in the Prometheus text format; raises ValueError when it is not one."""
    samples: defaultdict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name].append((dict(sample.labels), sample.value))
    return samples


def fetch(url: str, client: httpx.Client) -> Samples | str:
    """The page at `url`, parsed; or why not, in a few words."""
    try:
        response = client.get(url, timeout=TIMEOUT_S)
        response.raise_for_status()
        return parse(response.text)
    except httpx.HTTPError as exc:
        return f"no /metrics ({type(exc).__name__})"
    except ValueError:
        return "no /metrics (not the Prometheus format)"


def total(samples: Samples, name: str) -> float | None:
    """The sum over every series of `name`; None when the page has none."""
    series = samples.get(name)
    return None if series is None else sum(value for _, value in series)


def p95_bound_s(samples: Samples, histogram: str) -> float | None:
    """The upper bound of the bucket holding the 95th percentile of `histogram` (summed over series);
    None before the first observation."""
    buckets: defaultdict[float, float] = defaultdict(float)
    for labels, value in samples.get(f"{histogram}_bucket", []):
        buckets[float(labels["le"])] += value
    count = buckets.get(math.inf, 0.0)
    if not count:
        return None
    return next(le for le in sorted(buckets) if buckets[le] >= 0.95 * count)


def mean_s(samples: Samples, histogram: str) -> float | None:
    count = total(samples, f"{histogram}_count")
    return None if not count else (total(samples, f"{histogram}_sum") or 0.0) / count


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.0f} s"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def worker_headline(samples: Samples) -> str:
    """Processed records, processing time, queue wait, lanes, parked, dead letters, retries, lag."""
    return ", ".join([
        f"processed {_n(total(samples, 'aisle_stage_records_processed_total'))}",
        f"took {_ms(mean_s(samples, 'aisle_stage_processing_seconds'))} mean "
        f"(p95 <= {_ms(p95_bound_s(samples, 'aisle_stage_processing_seconds'))})",
        f"waited {_ms(mean_s(samples, 'aisle_stage_queue_wait_seconds'))} mean",
        f"lanes {_n(total(samples, 'aisle_stage_lanes_in_flight'))}",
        f"parked {_n(total(samples, 'aisle_stage_parked_records'))}",
        f"dead letters {_n(total(samples, 'aisle_stage_dead_letters_total') or 0.0)}",
        f"retries {_n(total(samples, 'aisle_stage_retries_total'))}",
        f"own lag {_n(total(samples, 'aisle_stage_consumer_lag'))}",
    ])


def gateway_headline(samples: Samples) -> str:
    return ", ".join([
        f"sockets {_n(total(samples, 'aisle_gateway_sockets_open'))}",
        f"requests {_n(total(samples, 'aisle_gateway_requests_produced_total'))}",
        f"frames delivered {_n(total(samples, 'aisle_gateway_frames_delivered_total'))}",
        f"dropped {_n(total(samples, 'aisle_gateway_frames_dropped_total'))}",
        f"errors {_n(total(samples, 'aisle_gateway_errors_total'))}",
    ])


def llm_headline(samples: Samples) -> str:
    usage = total(samples, "vllm:kv_cache_usage_perc")
    return ", ".join([
        f"running {_n(total(samples, 'vllm:num_requests_running'))}",
        f"waiting {_n(total(samples, 'vllm:num_requests_waiting'))}",
        f"KV cache {'-' if usage is None else f'{usage:.0%}'}",
        f"TTFT {_ms(mean_s(samples, 'vllm:time_to_first_token_seconds'))} mean",
    ])


def component_detail(settings: Settings, name: str, client: httpx.Client) -> str:
    """`aisle status`'s metrics column for a worker ("plan") or the gateway ("gateway")."""
    url = gateway_metrics_url(settings) if name == "gateway" else worker_metrics_url(settings, name)
    if url is None:
        return "no /metrics (AISLE_METRICS_PORT=0)"
    page = fetch(url, client)
    if isinstance(page, str):
        return f"{url}: {page}"
    return (gateway_headline if name == "gateway" else worker_headline)(page)


def llm_detail(settings: Settings, client: httpx.Client) -> str:
    """`aisle status`'s line for vLLM's own /metrics."""
    url = llm_metrics_url(settings)
    page = fetch(url, client)
    return f"{url}: {page if isinstance(page, str) else llm_headline(page)}"
