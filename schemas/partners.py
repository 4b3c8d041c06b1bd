"""The partner registry: who sends data, from where, and in which pseudonymisation domain.

Partner metadata lives here, not in the batches (DATA-CONTRACT.md). The pseudonymisation domain
decides which keys a partner's records are hashed under: Bulgarian partners link nationally in
``bg-central``; the Russian pilot stays in ``ru`` and is never linked to Bulgarian data.

>>> partner("plovdiv-ksuds").municipality_code
'PDV22'
>>> partner("samara-krug").domain
'ru'
>>> [p.id for p in partners_in("bg")]
['ruse-svetilnik', 'plovdiv-ksuds', 'sofia-kisuds', 'ruzhintsi-ksuds']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Country = Literal["bg", "ru"]


@dataclass(frozen=True)
class Site:
    """A place where a partner delivers services. Never a published dimension."""

    id: str
    name: str
    settlement_code: str
    outreach: bool = False


@dataclass(frozen=True)
class Partner:
    """A social-service complex that sends batches."""

    id: str
    name: str
    country: Country
    municipality_code: str
    settlement_code: str
    sites: tuple[Site, ...]
    domain: str
    operation_code: str | None = None
    native_export: str = "interchange-v1"

    @property
    def jurisdiction(self) -> Country:
        """Return the jurisdiction the partner's data is processed in."""
        return self.country


PARTNERS: dict[str, Partner] = {
    p.id: p
    for p in (
        Partner(
            id="ruse-svetilnik",
            name="Община Русе — ЦИСУ, Филиал „Светилник“ и КИСУ за деца",
            country="bg",
            municipality_code="RSE27",
            settlement_code="63427",
            sites=(
                Site("svetilnik", "Филиал „Светилник“, кв. Чародейка", "63427"),
                Site("druzhba", "КИСУ за деца, кв. Дружба", "63427"),
            ),
            domain="bg-central",
            operation_code="BG05M9OP001-2.004-0041",
        ),
        Partner(
            id="plovdiv-ksuds",
            name="КСУДС Пловдив",
            country="bg",
            municipality_code="PDV22",
            settlement_code="56784",
            sites=(
                Site("plovdiv", "КСУДС Пловдив", "56784"),
                Site("kaloyanovo", "Изнесено работно място Калояново", "35523", outreach=True),
            ),
            domain="bg-central",
            native_export="xlsx",
        ),
        Partner(
            id="sofia-kisuds",
            name="Столична община — КИСУДС",
            country="bg",
            municipality_code="SOF46",
            settlement_code="68134",
            sites=(
                Site("paraskeva", "Център „Св. Параскева“", "68134"),
                Site("community", "Общностен център", "68134"),
            ),
            domain="bg-central",
            operation_code="BG05M9OP001-2.004-0047",
            native_export="http-json",
        ),
        Partner(
            id="ruzhintsi-ksuds",
            name="Община Ружинци — КСУДС",
            country="bg",
            municipality_code="VID33",
            settlement_code="63255",
            sites=(
                Site("ruzhintsi", "КСУДС Ружинци", "63255"),
                Site("drenovets", "Изнесен офис Дреновец", "23672", outreach=True),
            ),
            domain="bg-central",
            native_export="csv-cp1251",
        ),
        Partner(
            id="samara-krug",
            name="«Круг заботы», Самарская область",
            country="ru",
            municipality_code="36701000",
            settlement_code="36701000",
            sites=(
                Site("samara", "Самара", "36701000"),
                Site("syzran", "Сызрань", "36735000"),
                Site("tolyatti", "Тольятти", "36740000"),
            ),
            domain="ru",
            native_export="postgresql",
        ),
    )
}


class UnknownPartner(KeyError):
    """A batch folder names a partner that is not in the registry."""


def partner(partner_id: str) -> Partner:
    """Return the registry entry of a partner; UnknownPartner if it is not registered."""
    try:
        return PARTNERS[partner_id]
    except KeyError:
        raise UnknownPartner(f"partner {partner_id!r} is not in the partner registry") from None


def partners_in(country: Country) -> list[Partner]:
    """Return the partners processed in a jurisdiction, in registry order."""
    return [p for p in PARTNERS.values() if p.country == country]
