"""The chat's refusals: like the console's, each carries the status and code of its answer."""

from __future__ import annotations

from console.domain.errors import Conflict, DomainError, NotFound


class ConversationNotFound(NotFound):
    code = "conversation_not_found"


class ChatEnded(Conflict):
    code = "chat_ended"


class OutOfHours(Conflict):
    code = "out_of_hours"


class Blocked(DomainError):
    status = 403
    code = "blocked"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotAChat(DomainError):
    status = 404
    code = "not_a_chat"
