"""Builds the search index: one denormalised `kb_search_entries` row per article and service.

The full-text tables follow those rows through triggers (see migration kb0001). A service's entry
also carries its "card", what the operator reads out, so a search is a single query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from knowledge import hours, languages
from knowledge.articles import plain_text
from knowledge.hsds_import import ImportReport
from knowledge.models import (
    Address,
    Article,
    Attribute,
    Language,
    Organization,
    Phone,
    Schedule,
    SearchEntry,
    SearchFacet,
    Service,
    ServiceArea,
    ServiceAtLocation,
    TaxonomyTerm,
)
from knowledge.text import fold, index_text

ANY = "*"
CHUNK = 500
# Defunct and inactive services are kept in the directory but never offered to an operator.
SEARCHABLE_STATUS = ("active", "temporarily closed")


def _chunks(values: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _group(rows: Iterable[Any], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        value = getattr(row, key)
        if value is not None:
            grouped[value].append(row)
    return grouped


def _drop(session: Session, kind: str, record_ids: Sequence[str]) -> None:
    entry_ids = select(SearchEntry.id).where(
        SearchEntry.kind == kind, SearchEntry.record_id.in_(record_ids)
    )
    session.execute(delete(SearchFacet).where(SearchFacet.entry_id.in_(entry_ids)))
    session.execute(
        delete(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.record_id.in_(record_ids))
    )


def facet_token(facet: str, value: str) -> str:
    """How a facet is named in the full-text row: its name, "x", the value's UTF-8 in hex.

    One word of letters and digits, so both engines keep it whole and exact (FTS5's tokenizer
    would split "lang=nl"); a hex value never spells a facet's name, and nothing an operator types
    can reach the column that holds these.
    """
    return f"{facet}x{' '.join(value.split()).encode().hex()}"


def _store(
    session: Session, entries: list[dict[str, Any]], facets: list[list[tuple[str, str]]]
) -> None:
    if not entries:
        return
    for entry, entry_facets in zip(entries, facets, strict=True):
        entry["facet_tokens"] = " ".join(
            sorted({facet_token(facet, value[:200]) for facet, value in entry_facets if value})
        )
    # One executemany, then the ids read back: INSERT … RETURNING of many rows goes row by row
    # on SQLite, which made a full rebuild several times slower.
    session.execute(insert(SearchEntry), entries)
    kind = entries[0]["kind"]
    ids = {
        record_id: entry_id
        for record_id, entry_id in session.execute(
            select(SearchEntry.record_id, SearchEntry.id).where(
                SearchEntry.kind == kind,
                SearchEntry.record_id.in_([e["record_id"] for e in entries]),
            )
        )
    }
    rows = [
        {"entry_id": ids[entry["record_id"]], "facet": facet, "value": value[:200]}
        for entry, entry_facets in zip(entries, facets, strict=True)
        for facet, value in sorted(set(entry_facets))
    ]
    if rows:
        session.execute(insert(SearchFacet), rows)


# ---------------------------------------------------------------- services


def index_services(session: Session, service_ids: Collection[str] | None = None) -> int:
    """(Re)build the entries of the given services, or of all; returns how many are searchable."""
    if service_ids is None:
        session.execute(
            delete(SearchFacet).where(
                SearchFacet.entry_id.in_(
                    select(SearchEntry.id).where(SearchEntry.kind == "service")
                )
            )
        )
        session.execute(delete(SearchEntry).where(SearchEntry.kind == "service"))
        ids = list(session.scalars(select(Service.id).order_by(Service.id)))
    else:
        ids = sorted(set(service_ids))
        for chunk in _chunks(ids):
            _drop(session, "service", chunk)
    count = 0
    for chunk in _chunks(ids):
        entries, facets = service_entries(session, chunk)
        _store(session, entries, facets)
        count += len(entries)
    return count


def service_entries(
    session: Session, ids: Sequence[str], statuses: Sequence[str] | None = SEARCHABLE_STATUS
) -> tuple[list[dict[str, Any]], list[list[tuple[str, str]]]]:
    """Search entries (with their cards) and facets of these services, in bulk."""
    query = select(Service).where(Service.id.in_(ids))
    if statuses is not None:
        query = query.where(Service.status.in_(statuses))
    services = session.scalars(query.order_by(Service.id)).all()
    if not services:
        return [], []
    org_ids = {s.organization_id for s in services}
    orgs = {
        o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    }
    sals = session.scalars(
        select(ServiceAtLocation).where(ServiceAtLocation.service_id.in_(ids))
    ).all()
    sal_by_service = _group(sals, "service_id")
    location_ids = {s.location_id for s in sals}
    phones = session.scalars(
        select(Phone).where(or_(Phone.service_id.in_(ids), Phone.organization_id.in_(org_ids)))
    ).all()
    phones_by_service = _group(phones, "service_id")
    phones_by_org = _group([p for p in phones if p.service_id is None], "organization_id")
    schedules = session.scalars(
        select(Schedule).where(
            or_(
                Schedule.service_id.in_(ids),
                Schedule.service_at_location_id.in_([s.id for s in sals]),
            )
        )
    ).all()
    sal_service = {s.id: s.service_id for s in sals}
    schedules_by_service: dict[str, list[Schedule]] = defaultdict(list)
    for schedule in schedules:
        owner = schedule.service_id or sal_service.get(schedule.service_at_location_id or "")
        if owner:
            schedules_by_service[owner].append(schedule)
    phone_service = {p.id: p.service_id for p in phones if p.service_id}
    langs = session.scalars(
        select(Language).where(
            or_(Language.service_id.in_(ids), Language.phone_id.in_(list(phone_service)))
        )
    ).all()
    langs_by_service: dict[str, set[str]] = defaultdict(set)
    for lang in langs:
        owner = lang.service_id or phone_service.get(lang.phone_id or "")
        code = languages.normalize(lang.code) or (fold(lang.name) if lang.name else None)
        if owner and code:
            langs_by_service[owner].add(code)
    areas = _group(
        session.scalars(select(ServiceArea).where(ServiceArea.service_id.in_(ids))), "service_id"
    )
    addresses = _group(
        session.scalars(select(Address).where(Address.location_id.in_(location_ids))), "location_id"
    )
    attributes = _group(
        session.scalars(select(Attribute).where(Attribute.link_id.in_(ids))), "link_id"
    )
    term_ids = {a.taxonomy_term_id for group in attributes.values() for a in group}
    terms = {
        t.id: t for t in session.scalars(select(TaxonomyTerm).where(TaxonomyTerm.id.in_(term_ids)))
    }

    entries: list[dict[str, Any]] = []
    facets: list[list[tuple[str, str]]] = []
    for service in services:
        org = orgs.get(service.organization_id)
        service_terms = [
            terms[a.taxonomy_term_id]
            for a in attributes.get(service.id, ())
            if a.taxonomy_term_id in terms
        ]
        regions = {fold(a.name) for a in areas.get(service.id, ()) if a.name}
        for sal in sal_by_service.get(service.id, ()):
            for address in addresses.get(sal.location_id, ()):
                regions.update(
                    fold(v) for v in (address.city, address.region, address.state_province) if v
                )
        service_langs = sorted(langs_by_service.get(service.id, ()))
        schedule_rows = [
            {
                k: hours_value(getattr(s, k))
                for k in hours.SCHEDULE_FIELDS
                if getattr(s, k) is not None
            }
            for s in sorted(schedules_by_service.get(service.id, ()), key=lambda s: s.id)
        ]
        phone_rows = sorted(
            phones_by_service.get(service.id) or phones_by_org.get(service.organization_id, []),
            key=lambda p: (p.type not in (None, "voice"), p.id),
        )
        card = {
            "organization": org.name if org else None,
            "phone": _phone_text(phone_rows[0]) if phone_rows else None,
            "phones": [_phone_text(p) for p in phone_rows],
            "hours": hours.summary(schedule_rows),
            "schedules": schedule_rows,
            "languages": service_langs,
            "eligibility": _eligibility(service),
            "how_to_refer": service.application_process,
            "accepts_direct_referrals": service.accepts_direct_referrals,
            "cross_border_contact_point": org.cross_border_contact_point if org else None,
            "status": service.status,
            "alert": service.alert,
            "url": service.url,
            "email": service.email,
        }
        body = " \n".join(
            v
            for v in (
                service.description,
                service.eligibility_description,
                service.application_process,
                service.interpretation_services,
            )
            if v
        )
        keywords = [
            service.alternate_name,
            org.name if org else None,
            org.alternate_name if org else None,
        ]
        keywords += [t.name for t in service_terms] + [a.name for a in areas.get(service.id, ())]
        entries.append(
            {
                "kind": "service",
                "record_id": service.id,
                "language": None,
                "title": service.name,
                "body": body,
                "min_age": service.minimum_age,
                "max_age": service.maximum_age,
                "card": card,
                "index_title": index_text(service.name),
                "index_keywords": index_text(*keywords),
                "index_body": index_text(body),
            }
        )
        entry_facets = [("lang", code) for code in service_langs] or [("lang", ANY)]
        entry_facets += [("region", r) for r in regions] or [("region", ANY)]
        for term in service_terms:
            entry_facets += [("term", term.id), ("term", fold(term.code or term.name))]
        facets.append(entry_facets)
    return entries, facets


def hours_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _phone_text(phone: Phone) -> str:
    number = phone.number.strip().strip('"')
    return f"{number} ext. {int(phone.extension)}" if phone.extension else number


def _eligibility(service: Service) -> str | None:
    if service.eligibility_description:
        return service.eligibility_description
    low, high = service.minimum_age, service.maximum_age
    if low is not None and high is not None:
        return f"Ages {low:g}–{high:g}"
    if low is not None:
        return f"Ages {low:g} and over"
    if high is not None:
        return f"Ages up to {high:g}"
    return None


# ---------------------------------------------------------------- articles


def index_articles(session: Session, article_ids: Collection[str] | None = None) -> int:
    if article_ids is None:
        session.execute(
            delete(SearchFacet).where(
                SearchFacet.entry_id.in_(
                    select(SearchEntry.id).where(SearchEntry.kind == "article")
                )
            )
        )
        session.execute(delete(SearchEntry).where(SearchEntry.kind == "article"))
        ids = list(session.scalars(select(Article.id).order_by(Article.id)))
    else:
        ids = sorted(set(article_ids))
        for chunk in _chunks(ids):
            _drop(session, "article", chunk)
    count = 0
    for chunk in _chunks(ids):
        entries: list[dict[str, Any]] = []
        facets: list[list[tuple[str, str]]] = []
        for article in session.scalars(
            select(Article).where(Article.id.in_(chunk)).order_by(Article.id)
        ):
            body = plain_text(article.body_markdown)
            entries.append(
                {
                    "kind": "article",
                    "record_id": article.id,
                    "language": article.language,
                    "title": article.title,
                    "body": (article.summary + "\n" if article.summary else "") + body,
                    "min_age": None,
                    "max_age": None,
                    "card": {
                        "language": article.language,
                        "translation_key": article.translation_key,
                        "categories": article.categories,
                        "summary": article.summary,
                    },
                    "index_title": index_text(article.title),
                    "index_keywords": index_text(article.summary, *article.categories),
                    "index_body": index_text(body),
                }
            )
            facets.append(
                [("lang", article.language), ("region", ANY)]
                + [("term", fold(c)) for c in article.categories]
            )
        _store(session, entries, facets)
        count += len(entries)
    return count


# ---------------------------------------------------------------- after an import


def affected_services(session: Session, changed: dict[str, set[str]]) -> set[str]:
    """Services whose entry may read differently after these objects changed."""
    ids = set(changed.get("service", ()))
    direct = ("phone", "schedule", "language", "service_area", "service_at_location", "attribute")
    for name in direct:
        if changed.get(name):
            model = {
                "phone": Phone,
                "schedule": Schedule,
                "language": Language,
                "service_area": ServiceArea,
                "service_at_location": ServiceAtLocation,
                "attribute": Attribute,
            }[name]
            column = Attribute.link_id if model is Attribute else model.service_id  # type: ignore[attr-defined]
            ids.update(
                v for v in session.scalars(select(column).where(model.id.in_(changed[name]))) if v
            )
    orgs = set(changed.get("organization", ()))
    if orgs:
        ids.update(session.scalars(select(Service.id).where(Service.organization_id.in_(orgs))))
    locations = set(changed.get("location", ()))
    if changed.get("address"):
        locations.update(
            v
            for v in session.scalars(
                select(Address.location_id).where(Address.id.in_(changed["address"]))
            )
            if v
        )
    sal_ids: set[str] = set()
    for name, model in (("schedule", Schedule), ("phone", Phone)):
        if changed.get(name):
            sal_ids.update(
                v
                for v in session.scalars(
                    select(model.service_at_location_id).where(model.id.in_(changed[name]))
                )
                if v
            )
    if locations or sal_ids:
        ids.update(
            session.scalars(
                select(ServiceAtLocation.service_id).where(
                    or_(
                        ServiceAtLocation.location_id.in_(locations),
                        ServiceAtLocation.id.in_(sal_ids),
                    )
                )
            )
        )
    if changed.get("language"):
        phone_ids = session.scalars(
            select(Language.phone_id).where(Language.id.in_(changed["language"]))
        )
        ids.update(
            v
            for v in session.scalars(select(Phone.service_id).where(Phone.id.in_(list(phone_ids))))
            if v
        )
    if changed.get("taxonomy_term"):
        ids.update(
            session.scalars(
                select(Attribute.link_id).where(
                    Attribute.taxonomy_term_id.in_(changed["taxonomy_term"])
                )
            )
        )
    return ids


def reindex_after_import(session: Session, report: ImportReport) -> None:
    services = affected_services(session, report.changed)
    if services:
        index_services(session, services)
    if report.changed.get("article"):
        index_articles(session, report.changed["article"])


def rebuild(session: Session) -> tuple[int, int]:
    """Rebuild every entry; returns (articles, services) indexed."""
    return index_articles(session), index_services(session)
