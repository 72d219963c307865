"""The chat's tables, in a metadata of their own (the chat's migration branch, `chat0001`…).

A conversation is the visitor's side of one or more contacts: the queue's `Contact.channel_ref`
holds the conversation's `ref`, so a transfer's new leg finds the same conversation. Nothing here
says who the visitor is: the resume token is kept only as a hash, message bodies are encrypted and
deleted when the chat closes (or when retention runs out), and a block names a rotating keyed
pseudonym.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from console.db import NAMING_CONVENTION, UTCDateTime, created_at, intpk, str16, str32, str64


class ChatBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


metadata = ChatBase.metadata


class Conversation(ChatBase):
    __tablename__ = "chat_conversations"
    __table_args__ = (Index("ix_chat_conversations_open", "status", "closed_at"),)

    id: Mapped[intpk]
    # The contact's channel_ref: opaque, says nothing about the visitor.
    ref: Mapped[str32] = mapped_column(unique=True)
    # SHA-256 of the visitor's resume token; the token itself lives only in their sessionStorage.
    token_hash: Mapped[str64] = mapped_column(unique=True)
    language: Mapped[str16]
    topic: Mapped[str32 | None]
    # open: the visitor is in it; left: the visitor ended or quick-exited; closed: the contact is.
    status: Mapped[str16] = mapped_column(default="open")
    last_seq: Mapped[int] = mapped_column(default=0)
    # The visitor's current socket (a random id), so a late disconnect cannot undo a reconnect.
    visitor_sid: Mapped[str | None] = mapped_column(String(64))
    visitor_connected: Mapped[bool] = mapped_column(default=False)
    visitor_seen_at: Mapped[dt.datetime | None]
    visitor_left_at: Mapped[dt.datetime | None]
    # "quick_exit" when the visitor fled with it: the operator is warned, after a reload too.
    left_reason: Mapped[str16 | None]
    operator_seen_at: Mapped[dt.datetime | None]
    # Keyed hash of the visitor's address under the current rotating key; cleared at close.
    pseudonym: Mapped[str64 | None]
    created_at: Mapped[created_at]
    ended_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    purge_after: Mapped[dt.datetime | None] = mapped_column(index=True)
    # Survey answers given before the outcome exists; copied into Outcome.details["survey"].
    survey: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    survey_at: Mapped[dt.datetime | None]


class Message(ChatBase):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        UniqueConstraint(
            "conversation_id", "client_id", name="uq_chat_messages_conversation_client"
        ),
    )

    id: Mapped[intpk]
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    sender: Mapped[str16]  # visitor | operator
    operator_id: Mapped[int | None]
    # The sender's own id for the message, so a resend after a reconnect is not stored twice.
    client_id: Mapped[str] = mapped_column(String(40))
    # The text as a token of console.domain.crypto's key ring; never the text in the clear.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]
    delivered_at: Mapped[dt.datetime | None]


class Block(ChatBase):
    __tablename__ = "chat_blocks"

    id: Mapped[intpk]
    pseudonym: Mapped[str64] = mapped_column(index=True)
    until: Mapped[dt.datetime] = mapped_column(index=True)
    operator_id: Mapped[int | None]
    created_at: Mapped[created_at]


class PseudonymKey(ChatBase):
    """One random key per rotation period; destroyed after two, which unlinks older pseudonyms."""

    __tablename__ = "chat_pseudonym_keys"

    epoch: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    secret: Mapped[str64]
    created_at: Mapped[created_at]


class CannedResponse(ChatBase):
    """An admin's version of a canned response in one language (defaults live in chat.toml)."""

    __tablename__ = "chat_canned_responses"
    __table_args__ = (UniqueConstraint("key", "language"),)

    id: Mapped[intpk]
    key: Mapped[str64]
    language: Mapped[str16]
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    # Hidden: the admin removed this response in this language.
    hidden: Mapped[bool] = mapped_column(default=False)
    updated_by: Mapped[int | None]
    updated_at: Mapped[created_at]


__all__ = ["Block", "CannedResponse", "Conversation", "Message", "PseudonymKey", "metadata"]
