"""Validation failures become problem documents that name the field and echo nothing personal."""

from __future__ import annotations

from typing import Annotated

from litestar import Litestar, get
from litestar.params import QueryParameter
from litestar.testing import TestClient

from api.problems import EXCEPTION_HANDLERS


@get("/where")
async def where(lat: Annotated[float, QueryParameter()], lon: Annotated[float, QueryParameter()]) -> str:
    return "ok"


def test_a_missing_query_parameter_is_named_and_the_query_is_not_echoed() -> None:
    app = Litestar([where], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        response = client.get("/where?lat=51.0234567")
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"] == [{"field": "lon", "message": "Missing required query parameter 'lon'"}]
    assert "51.0234567" not in response.text


def test_a_wrong_type_names_the_parameter() -> None:
    app = Litestar([where], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        response = client.get("/where?lat=north&lon=4.48")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lat"
