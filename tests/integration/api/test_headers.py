"""Headers: nosniff on every answer, no-store on tokens and personal data, docs without a CDN, one charset."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.core.enums import Role
from tests.integration.authz_helpers import handlers_by_operation
from tests.integration.conftest import Register
from tests.integration.ride_helpers import ride_json, simulated, upload
from tests.integration.school_helpers import staff

Client = AsyncTestClient[Litestar]
CONSENTS = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")


async def test_every_answer_says_nosniff_and_no_store_unless_it_may_be_cached(
    client: Client, register: Register
) -> None:
    """Every GET route of the app, plus errors from Litestar's own layer (unrouted, wrong method)."""
    user = await register(consents=CONSENTS, birthYear=1990)
    answers = []
    for method, path in sorted(handlers_by_operation(client.app)):
        if method == "GET" and "{" not in path:
            answers.append(await client.get(path, headers=user.auth))
    answers.append(await client.get("/no/such/route"))
    answers.append(await client.put("/health"))
    answers.append(await client.get("/me", headers={"Authorization": "Bearer forged"}))
    for answer in answers:
        where = f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}"
        assert answer.headers.get("x-content-type-options") == "nosniff", where
        assert answer.headers.get("cache-control") == "no-store", where


async def test_tokens_and_personal_data_are_never_stored_by_a_cache(
    client: Client, register: Register
) -> None:
    registered = await client.post(
        "/auth/register", json={"handle": "anna", "password": "correct horse battery", "birthYear": 1990}
    )
    login = await client.post("/auth/login", json={"handle": "anna", "password": "correct horse battery"})
    refreshed = await client.post("/auth/refresh", json={"refreshToken": login.json()["refreshToken"]})
    auth = {"Authorization": f"Bearer {refreshed.json()['accessToken']}"}
    for purpose in CONSENTS:
        await client.put(
            f"/me/consents/{purpose}", json={"granted": True, "policyVersion": "2026-01"}, headers=auth
        )
    ride = await upload(client, auth, ride_json(simulated(1).points))
    personal = [
        registered,
        login,
        refreshed,
        ride,
        await client.get("/me", headers=auth),
        await client.get("/me/export", headers=auth),
        await client.get("/me/export?format=gpx", headers=auth),
        await client.get(f"/rides/{ride.json()['id']}", headers=auth),
        await client.get("/me/points", headers=auth),
    ]
    for answer in personal:
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers["cache-control"] == "no-store", answer.request.url.path
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_static_assets_may_be_cached_and_are_typed(client: Client) -> None:
    for path, media in (
        ("/static/planner-map.js", "text/javascript"),
        ("/schema/assets/swagger-ui.css", "text/css"),
    ):
        answer = await client.get(path)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "max-age=3600, public"
        assert answer.headers["content-type"].startswith(media)
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_the_api_docs_load_nothing_from_another_origin(client: Client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "default-src 'self'" in policy
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    assert len(links) >= 4
    for link in links:
        assert link.startswith("/") and not link.startswith("//"), link
        asset = await client.get(link)
        assert asset.status_code == 200, link
    assert "cdn" not in page.text.lower() and "unpkg" not in page.text.lower()


async def test_text_answers_name_their_charset_once(client: Client) -> None:
    planner = await staff(client, Role.PLANNER)
    for path in ("/planner/map", "/planner/heatmap?format=csv&res=9", "/planner/flows?format=csv&res=9"):
        answer = await client.get(path, headers=planner.auth)
        assert answer.status_code == 200, answer.text
        content_type = answer.headers["content-type"]
        assert content_type.count("charset") == 1, (path, content_type)


async def test_options_allows_every_documented_method_of_a_path(client: Client) -> None:
    """Litestar kept the OPTIONS handler of the first handlers of a path (GET /hazards/{id} said
    `Allow: GET, OPTIONS`, hiding PATCH)."""
    document = (await client.get("/schema/openapi.json")).json()
    for path, item in document["paths"].items():
        documented = {m.upper() for m in item if m in ("get", "put", "post", "patch", "delete")}
        url = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        answer = await client.options(url)
        if answer.status_code != 204:
            continue  # a path the framework serves itself
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert documented | {"OPTIONS"} <= allowed, (path, answer.headers["allow"])
