"""The knowledge base's tables: HSDS 3.0 objects as the tabular form lays them out, plus articles,
the search index and the change log.

HSDS field names and meanings are kept column for column so data moves in and out without loss.
Only two fields are added to HSDS: `Organization.cross_border_contact_point` and
`Service.accepts_direct_referrals` (exported as extra properties, which HSDS 3.0 allows).
Full-text objects (SQLite FTS5 `kb_fts`, PostgreSQL `kb_fts` tsvector table) live outside this
metadata; the migration creates them and triggers keep them in step with `kb_search_entries`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.types import Base, hsds_id, link, short, text, timestamp, utcnow

metadata = Base.metadata


class HSDSObject(Base):
    """Marker base: each subclass is one HSDS object type (one CSV file of the tabular form)."""

    __abstract__ = True
    hsds_object: ClassVar[str]
    if TYPE_CHECKING:
        id: Mapped[str]


class Organization(HSDSObject):
    __tablename__ = "kb_organizations"
    hsds_object: ClassVar[str] = "organization"

    id: Mapped[hsds_id]
    name: Mapped[text]
    alternate_name: Mapped[text | None]
    description: Mapped[text]
    email: Mapped[short | None]
    website: Mapped[text | None]
    tax_status: Mapped[short | None]
    tax_id: Mapped[short | None]
    year_incorporated: Mapped[float | None]
    legal_status: Mapped[short | None]
    logo: Mapped[text | None]
    uri: Mapped[text | None]
    parent_organization_id: Mapped[link]
    # Helpline extension: this partner is the point of contact for cross-border referrals.
    cross_border_contact_point: Mapped[bool | None] = mapped_column(Boolean)


class Program(HSDSObject):
    __tablename__ = "kb_programs"
    hsds_object: ClassVar[str] = "program"

    id: Mapped[hsds_id]
    organization_id: Mapped[str] = mapped_column(ForeignKey("kb_organizations.id"), index=True)
    name: Mapped[text]
    alternate_name: Mapped[text | None]
    description: Mapped[text]


class Service(HSDSObject):
    __tablename__ = "kb_services"
    hsds_object: ClassVar[str] = "service"

    id: Mapped[hsds_id]
    organization_id: Mapped[str] = mapped_column(ForeignKey("kb_organizations.id"), index=True)
    program_id: Mapped[link]
    name: Mapped[text]
    alternate_name: Mapped[text | None]
    description: Mapped[text | None]
    url: Mapped[text | None]
    email: Mapped[short | None]
    status: Mapped[short]
    interpretation_services: Mapped[text | None]
    application_process: Mapped[text | None]
    fees_description: Mapped[text | None]
    wait_time: Mapped[text | None]
    fees: Mapped[text | None]
    accreditations: Mapped[text | None]
    eligibility_description: Mapped[text | None]
    minimum_age: Mapped[float | None]
    maximum_age: Mapped[float | None]
    assured_date: Mapped[dt.date | None]
    assurer_email: Mapped[short | None]
    licenses: Mapped[text | None]
    alert: Mapped[text | None]
    last_modified: Mapped[dt.datetime | None]
    # Helpline extension: the service takes a referral straight from the helpline.
    accepts_direct_referrals: Mapped[bool | None] = mapped_column(Boolean)


class Attribute(HSDSObject):
    __tablename__ = "kb_attributes"
    hsds_object: ClassVar[str] = "attribute"

    id: Mapped[hsds_id]
    link_id: Mapped[str] = mapped_column(String(64), index=True)
    taxonomy_term_id: Mapped[str] = mapped_column(ForeignKey("kb_taxonomy_terms.id"), index=True)
    link_type: Mapped[short | None]
    link_entity: Mapped[short]
    value: Mapped[text | None]


class ServiceAtLocation(HSDSObject):
    __tablename__ = "kb_service_at_location"
    hsds_object: ClassVar[str] = "service_at_location"

    id: Mapped[hsds_id]
    service_id: Mapped[str] = mapped_column(ForeignKey("kb_services.id"), index=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("kb_locations.id"), index=True)
    description: Mapped[text | None]


class Location(HSDSObject):
    __tablename__ = "kb_locations"
    hsds_object: ClassVar[str] = "location"

    id: Mapped[hsds_id]
    location_type: Mapped[short]
    url: Mapped[text | None]
    organization_id: Mapped[link]
    name: Mapped[text | None]
    alternate_name: Mapped[text | None]
    description: Mapped[text | None]
    transportation: Mapped[text | None]
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    external_identifier: Mapped[short | None]
    external_identifier_type: Mapped[short | None]


class Phone(HSDSObject):
    __tablename__ = "kb_phones"
    hsds_object: ClassVar[str] = "phone"

    id: Mapped[hsds_id]
    location_id: Mapped[link]
    service_id: Mapped[link]
    organization_id: Mapped[link]
    contact_id: Mapped[link]
    service_at_location_id: Mapped[link]
    number: Mapped[short]
    extension: Mapped[float | None]
    type: Mapped[short | None]
    description: Mapped[text | None]


class Contact(HSDSObject):
    __tablename__ = "kb_contacts"
    hsds_object: ClassVar[str] = "contact"

    id: Mapped[hsds_id]
    organization_id: Mapped[link]
    service_id: Mapped[link]
    service_at_location_id: Mapped[link]
    location_id: Mapped[link]
    name: Mapped[text | None]
    title: Mapped[text | None]
    department: Mapped[text | None]
    email: Mapped[short | None]


class Address(HSDSObject):
    __tablename__ = "kb_addresses"
    hsds_object: ClassVar[str] = "address"

    id: Mapped[hsds_id]
    location_id: Mapped[link]
    attention: Mapped[text | None]
    address_1: Mapped[text]
    address_2: Mapped[text | None]
    city: Mapped[text]
    region: Mapped[text | None]
    state_province: Mapped[text]
    postal_code: Mapped[short]
    country: Mapped[short]
    address_type: Mapped[short]


class Schedule(HSDSObject):
    __tablename__ = "kb_schedules"
    hsds_object: ClassVar[str] = "schedule"

    id: Mapped[hsds_id]
    service_id: Mapped[link]
    location_id: Mapped[link]
    service_at_location_id: Mapped[link]
    valid_from: Mapped[dt.date | None]
    valid_to: Mapped[dt.date | None]
    dtstart: Mapped[dt.date | None]
    timezone: Mapped[float | None]
    until: Mapped[dt.date | None]
    count: Mapped[float | None]
    wkst: Mapped[short | None]
    freq: Mapped[short | None]
    interval: Mapped[float | None]
    byday: Mapped[text | None]
    byweekno: Mapped[text | None]
    bymonthday: Mapped[text | None]
    byyearday: Mapped[text | None]
    description: Mapped[text | None]
    opens_at: Mapped[short | None]
    closes_at: Mapped[short | None]
    schedule_link: Mapped[text | None]
    attending_type: Mapped[text | None]
    notes: Mapped[text | None]


class Funding(HSDSObject):
    __tablename__ = "kb_funding"
    hsds_object: ClassVar[str] = "funding"

    id: Mapped[hsds_id]
    organization_id: Mapped[link]
    service_id: Mapped[link]
    source: Mapped[text | None]


class ServiceArea(HSDSObject):
    __tablename__ = "kb_service_areas"
    hsds_object: ClassVar[str] = "service_area"

    id: Mapped[hsds_id]
    service_id: Mapped[link]
    name: Mapped[text | None]
    description: Mapped[text | None]
    extent: Mapped[text | None]
    extent_type: Mapped[short | None]
    uri: Mapped[text | None]


class RequiredDocument(HSDSObject):
    __tablename__ = "kb_required_documents"
    hsds_object: ClassVar[str] = "required_document"

    id: Mapped[hsds_id]
    service_id: Mapped[link]
    document: Mapped[text | None]
    uri: Mapped[text | None]


class Language(HSDSObject):
    __tablename__ = "kb_languages"
    hsds_object: ClassVar[str] = "language"

    id: Mapped[hsds_id]
    service_id: Mapped[link]
    location_id: Mapped[link]
    phone_id: Mapped[link]
    name: Mapped[text | None]
    code: Mapped[short | None]
    note: Mapped[text | None]


class Accessibility(HSDSObject):
    __tablename__ = "kb_accessibility"
    hsds_object: ClassVar[str] = "accessibility"

    id: Mapped[hsds_id]
    location_id: Mapped[link]
    description: Mapped[text | None]
    details: Mapped[text | None]
    url: Mapped[text | None]


class TaxonomyTerm(HSDSObject):
    __tablename__ = "kb_taxonomy_terms"
    hsds_object: ClassVar[str] = "taxonomy_term"

    id: Mapped[hsds_id]
    code: Mapped[short | None]
    name: Mapped[text]
    description: Mapped[text]
    parent_id: Mapped[link]
    taxonomy: Mapped[text | None]
    language: Mapped[short | None]
    taxonomy_id: Mapped[link]
    term_uri: Mapped[text | None]


class MetadataEntry(HSDSObject):
    __tablename__ = "kb_metadata"
    hsds_object: ClassVar[str] = "metadata"

    id: Mapped[hsds_id]
    resource_id: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[short]
    last_action_date: Mapped[dt.date | None]
    last_action_type: Mapped[short]
    field_name: Mapped[text]
    previous_value: Mapped[text]
    replacement_value: Mapped[text]
    updated_by: Mapped[text]


class MetaTableDescription(HSDSObject):
    __tablename__ = "kb_meta_table_descriptions"
    hsds_object: ClassVar[str] = "meta_table_description"

    id: Mapped[hsds_id]
    name: Mapped[text | None]
    language: Mapped[short | None]
    character_set: Mapped[short | None]


class CostOption(HSDSObject):
    __tablename__ = "kb_cost_options"
    hsds_object: ClassVar[str] = "cost_option"

    id: Mapped[hsds_id]
    service_id: Mapped[str] = mapped_column(ForeignKey("kb_services.id"), index=True)
    valid_from: Mapped[dt.date | None]
    valid_to: Mapped[dt.date | None]
    option: Mapped[text | None]
    currency: Mapped[short | None]
    amount: Mapped[float | None]
    amount_description: Mapped[text | None]


class OrganizationIdentifier(HSDSObject):
    __tablename__ = "kb_organization_identifiers"
    hsds_object: ClassVar[str] = "organization_identifier"

    id: Mapped[hsds_id]
    organization_id: Mapped[str] = mapped_column(ForeignKey("kb_organizations.id"), index=True)
    identifier_scheme: Mapped[short | None]
    identifier_type: Mapped[short]
    identifier: Mapped[short]


class Taxonomy(HSDSObject):
    __tablename__ = "kb_taxonomies"
    hsds_object: ClassVar[str] = "taxonomy"

    id: Mapped[hsds_id]
    name: Mapped[text]
    description: Mapped[text]
    uri: Mapped[text | None]
    version: Mapped[short | None]


# ---------------------------------------------------------------- articles


class Article(Base):
    """An information article in one language; translations share a `translation_key`."""

    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), index=True)
    translation_key: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[dt.date | None]
    review_due: Mapped[dt.date | None] = mapped_column(index=True)
    created_at: Mapped[timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[timestamp] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- search index


class SearchEntry(Base):
    """One searchable document (an article or a service), denormalised for a single-query search.

    `index_*` hold accent-folded text that the full-text table indexes; `card` holds what an
    operator reads out (phone, hours, languages, eligibility, how to refer) and the schedules that
    decide "open now", so a search needs no further query per result.
    """

    __tablename__ = "kb_search_entries"
    __table_args__ = (Index("ix_kb_search_entries_kind_record", "kind", "record_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(120))
    language: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    min_age: Mapped[float | None]
    max_age: Mapped[float | None]
    card: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    index_title: Mapped[str] = mapped_column(Text)
    index_keywords: Mapped[str] = mapped_column(Text)
    index_body: Mapped[str] = mapped_column(Text)
    # The entry's facets again, as space-separated tokens for the full-text index
    # (knowledge.indexing.facet_token, migration kb0002).
    facet_tokens: Mapped[str | None] = mapped_column(Text)


class SearchFacet(Base):
    """A filter value of a search entry (`lang`, `region`, `term`); `*` matches every filter."""

    __tablename__ = "kb_search_facets"
    __table_args__ = (Index("ix_kb_search_facets_lookup", "facet", "value", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("kb_search_entries.id", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


# ---------------------------------------------------------------- change log


class ChangeLogEntry(Base):
    """HSDS-style per-field change log of edits made through the console.

    `actor_id` is the operator's id; no names are stored.
    """

    __tablename__ = "kb_change_log"
    __table_args__ = (Index("ix_kb_change_log_record", "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None]
    changed_at: Mapped[timestamp] = mapped_column(default=utcnow, index=True)


HSDS_MODELS: dict[str, type[HSDSObject]] = {
    cls.hsds_object: cls for cls in HSDSObject.__subclasses__()
}
