"""HSDS 3.0 import: the reference examples go in whole; broken rows are rejected one by one."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge import hsds
from knowledge.imports import import_path
from knowledge.models import Language, Phone, Schedule, Service

JSON_EXAMPLES = [
    "service_full.json",
    "service_list.json",
    "organization_full.json",
    "organization_list.json",
    "service_at_location_full.json",
    "service_at_location_list.json",
    "location.json",
    "taxonomy.json",
    "taxonomy_list.json",
    "taxonomy_term.json",
    "taxonomy_term_list.json",
    "tabular.json",
    "base.json",
]
ORGANIZATION = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"
SERVICE = "ac148810-d857-441c-9679-408f346de14b"


def test_csv_example_imports_without_rejection(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas
) -> None:
    report = import_path(db_session, hsds_root / "examples" / "csv", schemas=schemas)
    assert report.rejected == []
    assert sum(report.created.values()) == 21  # one row in each of the 21 tables
    service = db_session.get(Service, SERVICE)
    assert service is not None
    assert service.name == "Community Counselling"
    assert service.minimum_age == 12
    assert service.assured_date == dt.date(2005, 1, 1)
    # Links HSDS's own example leaves dangling are kept verbatim and reported as notes.
    assert any("985e4a42" in note for note in report.notes)


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_each_json_example_imports_without_rejection(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas, name: str
) -> None:
    report = import_path(db_session, hsds_root / "examples" / name, schemas=schemas)
    assert report.rejected == []
    if name != "base.json":
        assert report.total_changed > 0


def test_all_json_examples_together(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas
) -> None:
    report = import_path(db_session, hsds_root / "examples", schemas=schemas)
    assert report.rejected == []
    phone = db_session.get(Phone, "1554f2e2-a373-45db-a3fa-9fc48a61c15e")
    assert phone is not None
    # One phone nested under service, location, contact, … is one row linked to all of them.
    assert (phone.service_id, phone.location_id, phone.organization_id) == (
        SERVICE,
        "3a19ff88-4620-4d17-9830-ac1d859eb5d5",
        ORGANIZATION,
    )
    again = import_path(db_session, hsds_root / "examples", schemas=schemas)
    assert again.total_changed == 0
    assert again.rejected == []


def _append(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        for row in rows:
            writer.writerow(row)


def test_broken_rows_are_rejected_one_by_one(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas, tmp_path: Path
) -> None:
    package = tmp_path / "broken"
    shutil.copytree(hsds_root / "examples" / "csv", package)
    good_service = "11111111-1111-4111-8111-111111111111"
    _append(
        package / "services.csv",
        [
            {
                "id": good_service,
                "organization_id": ORGANIZATION,
                "name": "Night line",
                "status": "active",
            },
            # a bad foreign key: no such organization
            {
                "id": "22222222-2222-4222-8222-222222222222",
                "organization_id": "99999999-9999-4999-8999-999999999999",
                "name": "Orphan",
                "status": "active",
            },
            # a missing required field: name
            {
                "id": "33333333-3333-4333-8333-333333333333",
                "organization_id": ORGANIZATION,
                "status": "active",
            },
        ],
    )
    _append(
        package / "phones.csv",
        [
            {
                "id": "44444444-4444-4444-8444-444444444444",
                "service_id": good_service,
                "number": "+32 000",
            },
            # a bad foreign key: the phone belongs to no known service
            {
                "id": "55555555-5555-4555-8555-555555555555",
                "service_id": "99999999-9999-4999-8999-999999999999",
                "number": "+32 001",
            },
        ],
    )
    _append(
        package / "schedules.csv",
        [
            {
                "id": "66666666-6666-4666-8666-666666666666",
                "service_id": good_service,
                "freq": "WEEKLY",
                "byday": "MO",
                "opens_at": "20:00",
                "closes_at": "23:00",
            },
            # a bad time
            {
                "id": "77777777-7777-4777-8777-777777777777",
                "service_id": good_service,
                "freq": "WEEKLY",
                "byday": "TU",
                "opens_at": "25:00",
                "closes_at": "26:30",
            },
        ],
    )
    _append(
        package / "languages.csv",
        [
            {
                "id": "88888888-8888-4888-8888-888888888888",
                "service_id": good_service,
                "name": "Dutch",
                "code": "nl",
            },
            # a wrong language code
            {
                "id": "99999999-9999-4999-8999-000000000000",
                "service_id": good_service,
                "name": "Elvish",
                "code": "zz",
            },
        ],
    )
    report = import_path(db_session, package, schemas=schemas)

    reasons = {r.id: (r.where, r.reason) for r in report.rejected}
    assert set(reasons) == {
        "22222222-2222-4222-8222-222222222222",
        "33333333-3333-4333-8333-333333333333",
        "55555555-5555-4555-8555-555555555555",
        "77777777-7777-4777-8777-777777777777",
        "99999999-9999-4999-8999-000000000000",
    }
    assert "no organization" in reasons["22222222-2222-4222-8222-222222222222"][1]
    assert "name" in reasons["33333333-3333-4333-8333-333333333333"][1]
    assert "links to nothing known" in reasons["55555555-5555-4555-8555-555555555555"][1]
    assert "not a time: '25:00'" in reasons["77777777-7777-4777-8777-777777777777"][1]
    assert "language code: 'zz'" in reasons["99999999-9999-4999-8999-000000000000"][1]
    assert reasons["77777777-7777-4777-8777-777777777777"][0].endswith("schedules.csv:4")
    # The good rows, the example's and the new ones, are in; nothing of the bad ones is.
    assert report.created["service"] == 2
    assert report.created["phone"] == 2
    assert report.created["schedule"] == 2
    assert report.created["language"] == 2
    assert db_session.get(Service, good_service) is not None
    assert db_session.get(Service, "22222222-2222-4222-8222-222222222222") is None
    assert db_session.get(Schedule, "77777777-7777-4777-8777-777777777777") is None
    assert db_session.scalar(select(func.count()).select_from(Language)) == 2


def test_nested_json_rejects_the_bad_object_not_its_parent(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas, tmp_path: Path
) -> None:
    service = json.loads((hsds_root / "examples" / "service_full.json").read_text())
    service["phones"][0].pop("number")  # required
    service["schedules"][0]["opens_at"] = "9 o'clock"
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    report = import_path(db_session, path, schemas=schemas)
    rejected = {(r.object, r.where): r.reason for r in report.rejected}
    assert ("phone", "service.json.phones[0]") in rejected
    assert "'number' is a required property" in rejected[("phone", "service.json.phones[0]")]
    assert ("schedule", "service.json.schedules[0]") in rejected
    assert db_session.get(Service, SERVICE) is not None
    # The same phone nested elsewhere (under the location, …) is valid there, and goes in.
    assert db_session.get(Phone, "1554f2e2-a373-45db-a3fa-9fc48a61c15e") is not None


def test_updates_are_counted_and_absent_fields_kept(
    db_session: Session, hsds_root: Path, schemas: hsds.Schemas, tmp_path: Path
) -> None:
    import_path(db_session, hsds_root / "examples" / "csv", schemas=schemas)
    path = tmp_path / "services.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": SERVICE,
                    "name": "Community Counselling (MyCity)",
                    "status": "active",
                    "accepts_direct_referrals": True,
                }
            ]
        )
    )
    report = import_path(db_session, path, schemas=schemas)
    assert report.updated["service"] == 1
    assert report.rejected == []
    service = db_session.get(Service, SERVICE)
    assert service is not None
    assert service.name == "Community Counselling (MyCity)"
    assert service.accepts_direct_referrals is True
    assert service.email == "email@example.com"  # not in the file: left alone
