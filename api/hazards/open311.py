"""Open311 GeoReport v2 (JSON) over the hazards, so civic-issue clients can list and file reports.

Field names and status values are GeoReport's own (snake_case, `long`, `open`/
`closed`); errors stay RFC 9457 problem documents like everywhere else in the
API. Each hazard is one service request; each category is one service.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_415_UNSUPPORTED_MEDIA_TYPE
from sqlalchemy.ext.asyncio import AsyncSession

from api.hazards.http import CAN_REPORT, THROTTLED
from api.hazards.wire import SEVERITY_LABELS, Description, Lat, Lon
from api.strict import decode
from api.wire import time_query
from domain.accounts.tables import User
from domain.core import idempotency
from domain.core.columns import utcnow
from domain.core.errors import NotFound
from domain.hazards import service as hazard_service
from domain.hazards.categories import CATEGORIES
from domain.hazards.rules import (
    MAX_DESCRIPTION_LENGTH,
    HazardCategory,
    HazardStatus,
    Open311Status,
    ReportDraft,
    category_for_service_code,
    open311_status,
    public_time,
    statuses_for_open311,
)
from domain.hazards.store import HazardFilter, get_hazard, list_hazards
from domain.hazards.tables import Hazard, HazardReport

Language = Literal["nl", "fr", "en"]
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CODE = "(?:" + "|".join(c.value for c in HazardCategory) + ")"
_STATUS = "(?:open|closed)"


def _list_of(item: str) -> str:
    """A comma-separated list of `item`, as GeoReport's filters are."""
    return rf"^{item}(?:,{item})*$"


DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
OPEN311_SEVERITY = 2  # GeoReport has no severity field: "dangerous" is the honest middle


class Service(msgspec.Struct, kw_only=True):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceRequest(msgspec.Struct, kw_only=True):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None


class ServiceRequestCreated(msgspec.Struct, kw_only=True):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class ServiceRequestCreate(msgspec.Struct, kw_only=True):
    """GeoReport's POST fields we use; personal ones (email, names, phone, device_id) are dropped unread."""

    service_code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    lat: Lat
    long: Lon
    description: Description | None = None


def _service(code: HazardCategory, language: Language) -> Service:
    info = CATEGORIES[code]
    return Service(
        service_code=info.open311_service_code,
        service_name=info.open311_service_name(language),
        description=info.description.in_language(language),
        metadata=False,
        type="realtime",
        keywords=", ".join(info.keywords),
        group=info.open311_group,
    )


def _public_description(hazard: Hazard, name: str) -> str:
    """Built from public facts only: report texts may name a child, so they are never shown."""
    severity = SEVERITY_LABELS[hazard.severity].en.lower()
    return f"{name}: {severity} (severity {hazard.severity} of 3), {hazard.report_count} report(s)."


def _service_request(hazard: Hazard) -> ServiceRequest:
    info = CATEGORIES[HazardCategory(hazard.category)]
    name = info.open311_service_name("en")
    return ServiceRequest(
        service_request_id=str(hazard.id),
        status=open311_status(HazardStatus(hazard.status)).value,
        status_notes=hazard.public_note,
        service_name=name,
        service_code=info.open311_service_code,
        description=_public_description(hazard, name),
        agency_responsible=None,
        service_notice=None,
        requested_datetime=public_time(hazard.created_at),
        updated_datetime=public_time(hazard.updated_at),
        expected_datetime=None,
        address=None,
        address_id=None,
        zipcode=None,
        lat=hazard.lat,
        long=hazard.lon,
        media_url=None,
    )


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _ids(raw: str | None) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in _split(raw)]
    except ValueError as exc:
        raise ValidationException(
            "service_request_id must be hazard ids", extra=[{"key": "service_request_id"}]
        ) from exc


def _time(raw: str | None, name: str) -> datetime | None:
    try:
        return None if raw is None else datetime.fromisoformat(raw)
    except ValueError as exc:  # the form is checked by the pattern: this is a 2026-13-45
        raise ValidationException(f"{name} is not a time", extra=[{"key": name}]) from exc


def _open311_statuses(raw: str | None) -> set[HazardStatus]:
    try:
        return {s for v in _split(raw) for s in statuses_for_open311(Open311Status(v))}
    except ValueError as exc:
        raise ValidationException("status must be open or closed", extra=[{"key": "status"}]) from exc


FORM_TYPE = "application/x-www-form-urlencoded"


def _parse_create(body: bytes, content_type: str) -> ServiceRequestCreate:
    """GeoReport's form fields, or the same as JSON, strictly (`api.strict`): each field once.

    Form values are text by nature, so only they are converted to numbers.
    """
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        return decode(body, ServiceRequestCreate)
    if media != FORM_TYPE:
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Send the request form-encoded ({FORM_TYPE}) or as application/json.",
        )
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    fields: dict[str, str] = {}
    for name, values in form.items():
        if len(values) > 1:
            raise ValidationException(
                "The request body is invalid.",
                extra=[{"message": f"Form repeats the field `{name}`; send each field once - at `$.{name}`"}],
            )
        if "\x00" in name + values[0]:
            raise ValidationException(
                "The request body is invalid.",
                extra=[{"message": f"Text may not contain the NUL character - at `$.{name}`"}],
            )
        fields[name] = values[0]
    try:
        return msgspec.convert(fields, ServiceRequestCreate, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationException("The request body is invalid.", extra=[{"message": str(exc)}]) from None


_CREATE_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["service_code", "lat", "long"],
    description="GeoReport v2 fields; personal ones (email, names, phone, device_id) are dropped unread.",
    properties={
        "service_code": Schema(type=OpenAPIType.STRING, enum=[c.value for c in HazardCategory]),
        "lat": Schema(type=OpenAPIType.NUMBER, minimum=-90, maximum=90),
        "long": Schema(type=OpenAPIType.NUMBER, minimum=-180, maximum=180),
        "description": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, max_length=MAX_DESCRIPTION_LENGTH),
                Schema(type=OpenAPIType.NULL),
            ]
        ),
    },
)


@dataclass
class CreateOperation(Operation):
    """The handler reads its body itself (form or JSON), so the body is declared here."""

    def __post_init__(self) -> None:
        form = dataclasses.replace(_CREATE_SCHEMA, additional_properties=Schema(type=OpenAPIType.STRING))
        self.request_body = RequestBody(
            required=True,
            content={
                FORM_TYPE: OpenAPIMediaType(schema=form),  # a form field holds text, once
                "application/json": OpenAPIMediaType(schema=_CREATE_SCHEMA),
            },
        )


def _created_body(report: HazardReport, hazard: Hazard) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(
        ServiceRequestCreated(service_request_id=str(hazard.id), service_notice=None, account_id=None)
    )
    return body


class Open311Controller(Controller):
    path = "/open311/v2"
    tags = ["open311"]

    @get("/services.json", summary="GeoReport v2 service list: one service per hazard category")
    async def services(
        self, lang: Annotated[Language, QueryParameter(description="label language")] = "en"
    ) -> list[Service]:
        return [_service(code, lang) for code in CATEGORIES]

    @get("/requests.json", summary="GeoReport v2 service requests: the public hazards, newest first")
    async def requests(
        self,
        db_session: NamedDependency[AsyncSession],
        service_request_id: Annotated[
            str | None, QueryParameter(max_length=4000, pattern=_list_of(_UUID), description="hazard ids")
        ] = None,
        service_code: Annotated[str | None, QueryParameter(max_length=1000, pattern=_list_of(_CODE))] = None,
        status: Annotated[str | None, QueryParameter(max_length=20, pattern=_list_of(_STATUS))] = None,
        start_date: Annotated[str | None, time_query("start_date", "RFC 3339, on requested_datetime")] = None,
        end_date: Annotated[str | None, time_query("end_date", "RFC 3339, on requested_datetime")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_REQUESTS)] = MAX_REQUESTS,
    ) -> list[ServiceRequest]:
        ids = _ids(service_request_id)
        starts, ends = _time(start_date, "start_date"), _time(end_date, "end_date")
        if starts is None and not ids:
            starts = (ends or utcnow()) - DEFAULT_WINDOW
        where = HazardFilter(
            categories=[category_for_service_code(c) for c in _split(service_code)],
            statuses=_open311_statuses(status),
            created_from=starts,
            created_to=ends,
            ids=ids,
        )
        rows = await list_hazards(db_session, where, limit=limit)
        return [_service_request(h) for h in rows]

    @get("/requests/{request_file:str}", summary="One GeoReport v2 service request, as a one-element list")
    async def request(
        self,
        db_session: NamedDependency[AsyncSession],
        request_file: Annotated[str, PathParameter(description="<hazard id>.json")],
    ) -> list[ServiceRequest]:
        raw_id, dot, extension = request_file.rpartition(".")
        try:
            hazard_id = uuid.UUID(raw_id)
        except ValueError:
            hazard_id = None
        if hazard_id is None or not dot or extension != "json":
            raise NotFound("Ask for /open311/v2/requests/<hazard id>.json.", code="hazard-not-found")
        return [_service_request(await get_hazard(db_session, hazard_id))]

    @post(
        "/requests.json",
        status_code=HTTP_201_CREATED,
        guards=[THROTTLED, CAN_REPORT],
        operation_class=CreateOperation,
        summary="File a hazard report the GeoReport v2 way (form-encoded or JSON; bearer token)",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
    ) -> list[ServiceRequestCreated]:
        raw_key = request.headers.get(idempotency.HEADER)
        key = idempotency.check_key(raw_key) if raw_key is not None else None
        body, content_type = await request.body(), request.headers.get("content-type", "")
        data = _parse_create(body, content_type)
        stored = await hazard_service.file_report_once(
            db_session,
            current_user,
            ReportDraft(
                data.lat,
                data.long,
                category_for_service_code(data.service_code).value,
                OPEN311_SEVERITY,
                data.description,
            ),
            scope="open311",
            key=key,
            fingerprint=idempotency.request_fingerprint(body, content_type),
            render=_created_body,
            now=utcnow(),
            resolution=state.settings.h3_resolution,
        )
        return [msgspec.convert(stored.body, ServiceRequestCreated)]
