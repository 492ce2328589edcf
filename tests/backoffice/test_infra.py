"""App basics: health, readiness, docs, OpenAPI, metrics, problem+json for HTTP errors."""

from __future__ import annotations

from tests.backoffice.conftest import Api


async def test_health_ready_docs(api: Api) -> None:
    assert (await api.json("GET", "/healthz", as_=None)) == {"status": "ok"}
    assert (await api.json("GET", "/readyz", as_=None)) == {"status": "ok"}
    page = await api.call("GET", "/api/docs", as_=None)
    html = await page.text()
    assert page.status == 200 and '<script src="/api/docs/static/swagger-ui-bundle.js">' in html
    assert "http" not in html.lower().replace("http-equiv", "")  # no CDN
    asset = await api.call("GET", "/api/docs/static/swagger-ui-bundle.js", as_=None)
    assert asset.status == 200 and len(await asset.read()) > 100_000


async def test_openapi_is_31_and_lists_every_route(api: Api) -> None:
    from backoffice.api import all_routes

    doc = await api.json("GET", "/api/openapi.json", as_=None)
    assert doc["openapi"] == "3.1.0"
    for route in all_routes():
        op = doc["paths"][route.path][route.method.lower()]
        assert op["operationId"]
        if route.body is not None:
            assert "requestBody" in op
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["properties"])


async def test_metrics_prometheus_text(api: Api) -> None:
    await api.call("GET", "/healthz", as_=None)
    response = await api.call("GET", "/metrics", as_="admin")
    text = await response.text()
    assert response.status == 200 and response.content_type == "text/plain"
    assert 'claimdesk_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "claimdesk_http_request_duration_seconds_bucket" in text


async def test_http_errors_are_problems(api: Api) -> None:
    response = await api.call("GET", "/api/v1/nothing-here")
    assert response.status == 404 and response.content_type == "application/problem+json"
    response = await api.call("PUT", "/api/v1/claims")
    assert response.status == 405 and response.content_type == "application/problem+json"
    response = await api.call("POST", "/api/v1/claims", data=b"{not json", headers={"Content-Type": "application/json"})
    body = await response.json(content_type=None)
    assert response.status == 400 and body["code"] == "bad_request"
    response = await api.call("POST", "/api/v1/claims", data=b"[1]")
    assert response.status == 400
    big = b'{"description": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await api.call("POST", "/api/v1/claims", data=big, headers={"Content-Type": "application/json"})
    assert response.status == 413 and (await response.json(content_type=None))["code"] == "too_large"


async def test_detail_follows_accept_language(api: Api) -> None:
    ru = await api.json("GET", "/api/v1/claims/99", expect=404, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    en = await api.json("GET", "/api/v1/claims/99", as_="admin", expect=404, headers={"Accept-Language": "en"})
    assert ru["detail"] != en["detail"] and "claim 99" in en["detail"]
    assert ru["title"] == en["title"] == "Not Found"
