"""Errors the knowledge base raises to its callers (the console maps them to HTTP answers)."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of the errors below."""


class RecordNotFound(KnowledgeError, LookupError):
    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(f"no {kind} with id {record_id!r}")
        self.kind = kind
        self.record_id = record_id


class InvalidChange(KnowledgeError, ValueError):
    """An edit that names an unknown field or a value the record cannot hold."""
