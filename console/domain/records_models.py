"""The records feature's mapped classes, imported together so the metadata is complete."""

from __future__ import annotations

from console.domain.audit import AuditEvent
from console.domain.cases import Case, CaseContact
from console.domain.consent import Consent
from console.domain.drafts import WrapUpDraft
from console.domain.identity import IdentityValue
from console.domain.notes import ContactNote
from console.domain.triage import TriageAssessment

RECORDS_MODELS = (
    AuditEvent,
    Case,
    CaseContact,
    Consent,
    ContactNote,
    IdentityValue,
    TriageAssessment,
    WrapUpDraft,
)
