"""Operations: request ids, Prometheus metrics behind the token, JSON log lines that carry the request id."""

from __future__ import annotations

import json
import logging

from frontdesk.observability import JsonLogFormatter, request_id

from conftest import LiveServer


async def test_every_response_carries_a_request_id_and_a_sane_incoming_one_is_kept(server: LiveServer) -> None:
    async with server.client(token=None) as http:
        generated = await http.get("/healthz")
        kept = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
        too_long = await http.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert len(generated.headers["x-request-id"]) == 16
    assert kept.headers["x-request-id"] == "abc-123"
    assert too_long.headers["x-request-id"] != "x" * 500


async def test_metrics_need_the_token(server: LiveServer) -> None:
    async with server.client(token=None) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401


async def test_metrics_count_requests_by_route_template_and_status(server: LiveServer) -> None:
    async with server.client() as http:
        for _ in range(3):
            await http.get("/healthz")
        await http.get("/no/such/path/123")
        text = (await http.get("/metrics")).text
    assert 'frontdesk_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "/no/such/path/123" not in text  # raw paths never become labels
    assert "frontdesk_http_request_duration_seconds_bucket" in text
    assert 'frontdesk_db_pool_connections{state="open"}' in text


def test_json_log_lines_carry_the_request_id_and_extra_fields() -> None:
    record = logging.LogRecord("frontdesk.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.room_count = 3
    token = request_id.set("rid-1")
    try:
        line = JsonLogFormatter().format(record)
    finally:
        request_id.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["request_id"] == "rid-1"
    assert entry["level"] == "info" and entry["room_count"] == 3
