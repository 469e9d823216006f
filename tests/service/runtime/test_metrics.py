"""`/metrics` of a real `qinglian serve`: Prometheus's text format, the service's own requests, and what
the database says of the log, the relays and the webhook endpoints."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from tests.service.runtime.test_serve import child_env, qinglian_command, serving


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _sql(url: str, statement: str, *args: object) -> int:
    conn = await asyncpg.connect(url)
    try:
        found: int = await conn.fetchval(statement, *args)
        return found
    finally:
        await conn.close()


RELAY = (
    "insert into relay_positions (name, position, published, last_error) values ($1, 1, 1, 'x') returning 1"
)
HEAD = "select coalesce(max(position), 0) from events"


def test_metrics_count_requests_and_show_the_log_relays_and_endpoints(
    tmp_path: Path, database_url: str
) -> None:
    env = child_env(database_url) | {"QINGLIAN_WEBHOOK_ALLOW_PRIVATE": "on"}
    added = subprocess.run(
        [*qinglian_command(), "webhook", "add", "http://127.0.0.1:9/never"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    endpoint = added.stdout.split()[1].rstrip(":")
    assert endpoint.startswith("wh_")
    with serving(tmp_path, env) as service:
        asyncio.run(_sql(database_url, RELAY, "metrics-test"))
        for _ in range(3):
            assert 200 == service.get("/healthz").status_code
        response = service.get("/metrics")
        assert 200 == response.status_code
        assert response.headers["content-type"].startswith("text/plain")
        found = samples(response.text)
        # The service writes the default standard as it starts; nothing writes after.
        head = asyncio.run(_sql(database_url, HEAD))
        assert found[("qinglian_http_requests_total", (("route", "/healthz"), ("status", "200")))] >= 3
        assert found[("qinglian_http_request_seconds_count", (("route", "/healthz"),))] >= 3
        assert head == found[("qinglian_log_head_position", ())]
        assert 1 == found[("qinglian_relay_position", (("relay", "metrics-test"),))]
        assert head - 1 == found[("qinglian_relay_lag_events", (("relay", "metrics-test"),))]
        assert 1 == found[("qinglian_relay_failing", (("relay", "metrics-test"),))]
        assert ("qinglian_webhook_lag_events", (("endpoint", endpoint),)) in found
        assert 0 == found[("qinglian_subscribers", ())]
        # Nothing that names a place to deliver to, or a secret, is in a label.
        assert "127.0.0.1:9" not in response.text
        assert "whsec_" not in response.text
