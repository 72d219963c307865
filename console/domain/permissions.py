"""Who may do what with identity and records: the role × action matrix, enforced in the domain.

Operators reach identity only for contacts or cases they handle (they took a leg of the
conversation) or are assigned to. Shift leads and admins reach any, and give a reason like anyone
else. `actor_id=None` is the system acting for the caller or visitor themselves (the chat checkbox,
the IVR key press, an expiry), never a person.
"""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.domain.errors import DomainError
from console.domain.operators import Operator, Role, get_operator


class Action(enum.StrEnum):
    GRANT_CONSENT = "grant_consent"
    STORE_IDENTITY = "store_identity"
    READ_IDENTITY = "read_identity"
    WITHDRAW_CONSENT = "withdraw_consent"
    ERASE_CASE = "erase_case"
    VIEW_AUDIT = "view_audit"
    EXPORT = "export"


class AccessDenied(DomainError):
    status = 403
    code = "access_denied"


# "own": only for contacts or cases the operator handles or is assigned to.
MATRIX: dict[Action, dict[Role, str]] = {
    Action.GRANT_CONSENT: {Role.OPERATOR: "own", Role.SHIFT_LEAD: "any", Role.ADMIN: "any"},
    Action.STORE_IDENTITY: {Role.OPERATOR: "own", Role.SHIFT_LEAD: "any", Role.ADMIN: "any"},
    Action.READ_IDENTITY: {Role.OPERATOR: "own", Role.SHIFT_LEAD: "any", Role.ADMIN: "any"},
    Action.WITHDRAW_CONSENT: {Role.OPERATOR: "own", Role.SHIFT_LEAD: "any", Role.ADMIN: "any"},
    Action.ERASE_CASE: {Role.OPERATOR: "none", Role.SHIFT_LEAD: "none", Role.ADMIN: "any"},
    Action.VIEW_AUDIT: {Role.OPERATOR: "none", Role.SHIFT_LEAD: "none", Role.ADMIN: "any"},
    Action.EXPORT: {Role.OPERATOR: "none", Role.SHIFT_LEAD: "any", Role.ADMIN: "any"},
}

# Actions the system itself may take on the person's own instruction or on a schedule.
SYSTEM_ACTIONS = frozenset(
    {
        Action.GRANT_CONSENT,
        Action.STORE_IDENTITY,
        Action.READ_IDENTITY,
        Action.WITHDRAW_CONSENT,
        Action.ERASE_CASE,
        Action.EXPORT,
    }
)


def handles(
    session: Session, operator_id: int, *, contact_id: int | None, case_id: int | None
) -> bool:
    """The operator took a leg of this contact, or of a contact of this case, or is assigned."""
    from console.domain.cases import Case, case_of, contact_ids, transfer_chain
    from console.domain.contacts import Contact

    contacts: set[int] = set()
    cases: set[int] = set()
    if contact_id is not None:
        contacts.update(transfer_chain(session, contact_id))
        linked = case_of(session, contact_id)
        if linked is not None:
            cases.add(linked.id)
    if case_id is not None:
        cases.add(case_id)
    for cid in cases:
        contacts.update(contact_ids(session, cid))
    if cases and session.scalar(
        select(Case.id).where(Case.id.in_(cases), Case.assigned_to_id == operator_id).limit(1)
    ):
        return True
    handled = (
        session.scalar(
            select(Contact.id)
            .where(Contact.id.in_(contacts), Contact.operator_id == operator_id)
            .limit(1)
        )
        if contacts
        else None
    )
    return handled is not None


def allowed(
    session: Session,
    actor_id: int | None,
    action: Action,
    *,
    contact_id: int | None = None,
    case_id: int | None = None,
) -> bool:
    if actor_id is None:
        return action in SYSTEM_ACTIONS
    operator = session.get(Operator, actor_id)
    if operator is None or not operator.active:
        return False
    rule = MATRIX[action].get(Role(operator.role), "none")
    if rule == "any":
        return True
    if rule == "own":
        return handles(session, operator.id, contact_id=contact_id, case_id=case_id)
    return False


def require(
    session: Session,
    actor_id: int | None,
    action: Action,
    *,
    consent: object | None = None,
    contact_id: int | None = None,
    case_id: int | None = None,
) -> None:
    if consent is not None:
        contact_id = getattr(consent, "contact_id", None)
        case_id = getattr(consent, "case_id", None)
    if not allowed(session, actor_id, action, contact_id=contact_id, case_id=case_id):
        if actor_id is not None:
            get_operator(session, actor_id)  # an unknown actor is a 404, not a 403
        raise AccessDenied(
            "Your role does not allow this here: operators reach identity only for contacts "
            "and cases they handle or are assigned to."
        )
