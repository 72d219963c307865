"""The logged-in staff member as Flask-Login sees it: a detached snapshot, not a live ORM row."""

from __future__ import annotations

from console.domain.operators import Operator


class StaffUser:
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, operator: Operator) -> None:
        self.operator_id = operator.id
        self.username = operator.username
        self.display_name = operator.display_name
        self.role = operator.role
        self.languages = list(operator.languages)

    def get_id(self) -> str:
        return str(self.operator_id)

    @property
    def is_lead(self) -> bool:
        return self.role in ("shift_lead", "admin")
