"""The category catalogue: what each hazard category is called and how it maps to open standards.

The catalogue itself is data (``categories.json``: nl/fr/en labels and
descriptions, keywords, mappings); this module reads it once and checks it.
It is the single source of the three public vocabularies a hazard has to
speak: our stable snake_case codes (the wire format of the app, kept as
`domain.hazards.rules.HazardCategory`), the FIWARE Smart Data Models `Alert`
entity (`category`/`subCategory`, for the city's open-data broker) and Open311
GeoReport v2 services (for the city's ticketing system). `docs/hazards.md`
explains the mapping choices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from domain.hazards.rules import HazardCategory, validate_severity

Language = Literal["nl", "fr", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("nl", "fr", "en")


SDM_ALERT_CATEGORY: Final = "traffic"
"""Every hazard is a traffic alert in Smart Data Models terms; the other SDM categories do not apply."""

SDM_OWN_CODE_ATTRIBUTE: Final = "hazardCategory"
"""Key under the SDM Alert `data` payload that carries our own category code, since the SDM
`subCategory` enum is coarser than our catalogue (most of ours map to `hazardOnRoad`)."""


@dataclass(frozen=True, slots=True)
class LocalizedText:
    nl: str
    fr: str
    en: str

    def in_language(self, language: Language) -> str:
        text: str = getattr(self, language)
        return text


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """Everything the outside world needs to know about one category.

    `sdm_sub_category` is always a value of the SDM Alert `subCategory` enum;
    `sdm_exact` says whether it really means our category or is only the
    closest valid value (then consumers must read our code from
    `data.hazardCategory`).
    """

    code: HazardCategory
    label: LocalizedText
    description: LocalizedText
    sdm_sub_category: str
    sdm_exact: bool
    open311_group: str
    keywords: tuple[str, ...]

    @property
    def sdm_category(self) -> str:
        return SDM_ALERT_CATEGORY

    @property
    def open311_service_code(self) -> str:
        """Our code itself: stable, readable in a city's ticket system, no second table to keep in sync."""
        return self.code.value

    def open311_service_name(self, language: Language = "en") -> str:
        return self.label.in_language(language)


def _text(values: Mapping[str, str]) -> LocalizedText:
    return LocalizedText(nl=values["nl"], fr=values["fr"], en=values["en"])


def _load(path: Path) -> Mapping[HazardCategory, CategoryInfo]:
    """Read the catalogue and refuse one that does not cover exactly `HazardCategory`, in its order."""
    entries = json.loads(path.read_text(encoding="utf-8"))["categories"]
    infos = tuple(
        CategoryInfo(
            code=HazardCategory(e["code"]),
            label=_text(e["label"]),
            description=_text(e["description"]),
            sdm_sub_category=e["sdmSubCategory"],
            sdm_exact=bool(e["sdmExact"]),
            open311_group=e["open311Group"],
            keywords=tuple(e["keywords"]),
        )
        for e in entries
    )
    if [i.code for i in infos] != list(HazardCategory):
        raise ValueError(f"{path.name} must list every HazardCategory once, in the enum's order")
    return MappingProxyType({i.code: i for i in infos})


CATALOGUE_FILE: Final = Path(__file__).with_name("categories.json")
CATEGORIES: Final[Mapping[HazardCategory, CategoryInfo]] = _load(CATALOGUE_FILE)
"""The catalogue in display order (the order of `HazardCategory`), read from ``categories.json``."""

SDM_TRAFFIC_SUB_CATEGORIES: Final[frozenset[str]] = frozenset(
    {
        "trafficJam",
        "carAccident",
        "carWrongDirection",
        "carStopped",
        "pothole",
        "roadClosed",
        "roadWorks",
        "hazardOnRoad",
        "injuredBiker",
        "pedestrianOnRoad",
        "bikerOnRoad",
        "tramApproaching",
        "crowdRisk",
    }
)
"""The traffic values of the SDM Alert `subCategory` enum (dataModel.Alert), to keep our mapping honest."""

_SDM_SEVERITY: Final[Mapping[int, str]] = MappingProxyType({1: "low", 2: "medium", 3: "high"})


def category_info(category: HazardCategory) -> CategoryInfo:
    return CATEGORIES[category]


def sdm_severity(severity: int) -> str:
    """Our 1..3 onto the SDM Alert `severity` enum; `informational` and `critical` stay unused."""
    return _SDM_SEVERITY[validate_severity(severity)]
