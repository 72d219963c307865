"""Twilio's REST API, for the few moves a webhook reply cannot make: redirect a live call, hang it
up, place a callback, read back a caller for a block.

The HTTP transport is injectable (a `twilio.http.HttpClient`), so the simulator and the tests run a
real twilio `Client` over a local transport. Nothing here logs a number: twilio's own request log is
kept at WARNING, and errors are reported by CallSid and Twilio error code only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

from telephony.settings import TelephonySettings

log = logging.getLogger(__name__)

# twilio's client logs request lines at INFO; a GET of a call would carry its SID only, but keep
# the whole library quiet so no future change can leak a number into the log.
logging.getLogger("twilio").setLevel(logging.WARNING)


class RestUnavailable(RuntimeError):
    """Twilio refused or could not be reached; the message holds a code, never a number."""


@dataclass(frozen=True)
class PlacedCall:
    sid: str


class TwilioRest:
    def __init__(self, tset: TelephonySettings, http_client: HttpClient | None = None) -> None:
        self.tset = tset
        self.http_client = http_client
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.tset.account_sid:
                raise RestUnavailable("TWILIO_ACCOUNT_SID is not set")
            if self.tset.api_key_sid and self.tset.api_key_secret:
                self._client = Client(
                    self.tset.api_key_sid,
                    self.tset.api_key_secret,
                    self.tset.account_sid,
                    http_client=self.http_client,
                )
            else:
                self._client = Client(
                    self.tset.account_sid, self.tset.auth_token, http_client=self.http_client
                )
        return self._client

    @staticmethod
    def _fail(what: str, sid: str | None, exc: Exception) -> RestUnavailable:
        code = getattr(exc, "code", None) or getattr(exc, "status", None) or type(exc).__name__
        # TwilioRestException messages can quote the number dialled; only the code goes on.
        return RestUnavailable(f"{what} {sid or '-'} failed ({code})")

    def redirect(self, call_sid: str, url: str) -> None:
        """Move a live call to new TwiML (out of the queue, into a Dial or a conference)."""
        try:
            self.client.calls(call_sid).update(url=url, method="POST")
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise self._fail("redirect of", call_sid, exc) from None

    def hang_up(self, call_sid: str) -> None:
        try:
            self.client.calls(call_sid).update(status="completed")
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise self._fail("hang-up of", call_sid, exc) from None

    def call(
        self, *, to: str, from_: str, url: str, status_callback: str, timeout: int
    ) -> PlacedCall:
        """Place an outbound call; `to` is used for this request only."""
        try:
            created = self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                timeout=timeout,
            )
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise self._fail("call for", None, exc) from None
        return PlacedCall(sid=str(created.sid))

    def caller_of(self, call_sid: str) -> str:
        """The `from` of a call, read back from Twilio to make a block hash (never stored)."""
        try:
            fetched = self.client.calls(call_sid).fetch()
        except (TwilioRestException, TwilioException, OSError) as exc:
            raise self._fail("lookup of", call_sid, exc) from None
        return str(getattr(fetched, "_from", None) or "")
