"""Twilio's side of calls, played locally: `helpline simulate call`, the demo and the tests use it.

`SimulatedTwilio` posts the webhooks Twilio would post, with the same parameters, signed with the
auth token (X-Twilio-Signature), and follows the TwiML it gets back: it says what it hears, presses
digits at a <Gather>, waits in an <Enqueue> (fetching the wait URL), rings the operator at a <Dial>,
joins conferences, hangs up, and posts the status callback at the end.

It is also the other end of the app's Twilio REST client: `SimulatedTwilio.api` is a real
`twilio.http.HttpClient` whose transport is this simulation, so a redirect, a hang-up or a placed
callback that the app sends arrives here, is recorded, and moves the simulated call as Twilio would.

Commands from the REST side are queued per call and carried out by whichever thread drives that
call (`wait_in_queue`, `settle`), so a test stays one deterministic sequence.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue as stdlib_queue
import random
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit

from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
_CALL_PATH = re.compile(
    r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Calls(?:/(CA[0-9a-fA-F]{32}))?\.json$"
)


class WebhookFailed(AssertionError):
    """The app answered a webhook with an error: Twilio would play an application error."""


def _parse(body: str) -> ET.Element:
    """TwiML from the app under test (trusted input: our own replies, never a third party's)."""
    if not body.strip():
        return ET.Element("Response")
    return ET.fromstring(body)  # noqa: S314


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


# ---------------------------------------------------------------- where the webhooks go


class Target(Protocol):
    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]: ...


class FlaskTarget:
    """An app in this process (its test client): no network, same WSGI stack."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(
            path,
            data=dict(params),
            headers=dict(headers),
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        return int(response.status_code), str(response.get_data(as_text=True))


class HttpTarget:
    """A running server; the URL Twilio would use (and sign) may differ from where it listens."""

    def __init__(self, server_url: str) -> None:
        import requests

        self.server = server_url.rstrip("/")
        self.session = requests.Session()

    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.session.post(
            self.server + path, data=dict(params), headers=dict(headers), timeout=15
        )
        return response.status_code, response.text


@dataclass(frozen=True)
class Webhook:
    url: str
    status: int
    body: str
    params: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class RestRequest:
    method: str
    path: str
    data: Mapping[str, str] = field(repr=False)

    @property
    def call_sid(self) -> str | None:
        match = _CALL_PATH.search(self.path)
        return match.group(2) if match else None


# ---------------------------------------------------------------- the REST side


class LocalTwilioApi(HttpClient):  # type: ignore[misc]
    """A twilio HttpClient whose transport is the simulation: requests are recorded and applied."""

    def __init__(self, twilio: SimulatedTwilio) -> None:
        super().__init__(logger=log, is_async=False)
        self.twilio = twilio
        self.requests: list[RestRequest] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        values = {str(k): str(v) for k, v in (data or {}).items()}
        path = urlsplit(uri).path
        with self._lock:
            self.requests.append(RestRequest(method.upper(), path, values))
        match = _CALL_PATH.search(path)
        if match is None:
            return self._error(404, 20404, "not simulated")
        call_sid = match.group(2)
        if method.upper() == "POST" and call_sid is None:
            return self._ok(self.twilio.place(values))
        call = self.twilio.calls.get(call_sid or "")
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        if method.upper() == "GET":
            return self._ok(call)
        if call.ended:
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if "Url" in values:
            call.commands.put(("redirect", values["Url"]))
        elif values.get("Status") in ("completed", "canceled"):
            call.commands.put(("hangup", ""))
        return self._ok(call)

    @staticmethod
    def _ok(call: SimulatedCall) -> TwilioResponse:
        return TwilioResponse(200, json.dumps(call.resource()))

    @staticmethod
    def _error(status: int, code: int, message: str) -> TwilioResponse:
        return TwilioResponse(
            status, json.dumps({"code": code, "message": message, "status": status})
        )


class SimulatedTwilio:
    def __init__(
        self,
        target: Any,
        *,
        auth_token: str,
        account_sid: str,
        public_base_url: str | None = None,
        line: str = "+3225550100",
    ) -> None:
        if isinstance(target, str):
            self.target: Target = HttpTarget(target)
            default_base = target.rstrip("/")
        elif hasattr(target, "test_client"):
            self.target = FlaskTarget(target.test_client())
            default_base = "http://helpline.test"
        elif hasattr(target, "post") and hasattr(target, "application"):
            self.target = FlaskTarget(target)
            default_base = "http://helpline.test"
        else:
            self.target = target
            default_base = "http://helpline.test"
        self.base = (public_base_url or default_base).rstrip("/")
        self.account_sid = account_sid
        self.line = line
        self.validator = RequestValidator(auth_token)
        self.api = LocalTwilioApi(self)
        self.calls: dict[str, SimulatedCall] = {}
        self.conferences: dict[str, list[SimulatedCall]] = {}
        self.queues: dict[str, list[SimulatedCall]] = {}
        self.webhooks: list[Webhook] = []
        self._outbound: deque[Callable[[SimulatedCall], None]] = deque()
        self.default_outbound: Callable[[SimulatedCall], None] = lambda call: call.no_answer()
        self._started: stdlib_queue.Queue[SimulatedCall] = stdlib_queue.Queue()
        self._lock = threading.RLock()

    # -- webhooks

    def absolute(self, url: str, relative_to: str | None = None) -> str:
        if url.startswith(("http://", "https://")):
            return url
        return urljoin(relative_to or (self.base + "/"), url)

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return str(self.validator.compute_signature(url, dict(params)))

    def post(self, url: str, params: Mapping[str, str], *, expect_ok: bool = True) -> Webhook:
        absolute = self.absolute(url)
        headers = {"X-Twilio-Signature": self.sign(absolute, params)}
        status, body = self.target.post(absolute, params, headers)
        hook = Webhook(absolute, status, body, dict(params))
        with self._lock:
            self.webhooks.append(hook)
        if expect_ok and not 200 <= status < 300:
            raise WebhookFailed(f"{urlsplit(absolute).path} answered {status}: {body[:200]}")
        return hook

    # -- calls

    def call(
        self,
        from_: str = "+32470000001",
        to: str | None = None,
        *,
        voice_url: str = "/voice/incoming",
        status_callback: str | None = "/voice/status",
    ) -> SimulatedCall:
        call = SimulatedCall(
            self,
            from_=from_,
            to=to or self.line,
            direction="inbound",
            voice_url=voice_url,
            status_callback=status_callback,
        )
        self.register(call)
        return call

    def register(self, call: SimulatedCall) -> None:
        with self._lock:
            self.calls[call.sid] = call

    def on_outbound(self, *policies: Callable[[SimulatedCall], None]) -> None:
        """What the next calls the app places will do (answer and press 1, ring out, …)."""
        self._outbound.extend(policies)

    def place(self, values: Mapping[str, str]) -> SimulatedCall:
        call = SimulatedCall(
            self,
            from_=values.get("From", ""),
            to=values.get("To", ""),
            direction="outbound-api",
            voice_url=values.get("Url", ""),
            status_callback=values.get("StatusCallback") or None,
        )
        self.register(call)
        self._started.put(call)
        return call

    def settle(self, timeout: float = 5.0, quiet: float = 0.3) -> None:
        """Carry out what the app asked over REST until nothing more arrives for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last_activity = time.monotonic()
        while time.monotonic() < deadline:
            busy = False
            try:
                placed = self._started.get_nowait()
            except stdlib_queue.Empty:
                placed = None
            if placed is not None:
                policy = self._outbound.popleft() if self._outbound else self.default_outbound
                policy(placed)
                busy = True
            for call in list(self.calls.values()):
                if call.process_commands():
                    busy = True
            if busy:
                last_activity = time.monotonic()
            elif time.monotonic() - last_activity >= quiet:
                return
            else:
                time.sleep(0.02)

    def rest_requests(self, kind: str | None = None) -> list[RestRequest]:
        """Recorded REST requests: kind "redirect", "hangup" or "create" narrows them."""
        found = list(self.api.requests)
        if kind == "redirect":
            return [r for r in found if "Url" in r.data and r.call_sid]
        if kind == "hangup":
            return [r for r in found if r.data.get("Status") == "completed"]
        if kind == "create":
            return [r for r in found if r.call_sid is None and r.method == "POST"]
        return found


# ---------------------------------------------------------------- one call


@dataclass
class _Gather:
    action: str
    on_empty: bool
    rest: list[ET.Element]
    doc_url: str


@dataclass
class _Dial:
    action: str | None
    doc_url: str
    nouns: list[ET.Element]
    caller_id: str | None = None
    child: SimulatedCall | None = None
    answered_at: float | None = None


class SimulatedCall:
    def __init__(
        self,
        twilio: SimulatedTwilio,
        *,
        from_: str,
        to: str,
        direction: str,
        voice_url: str,
        status_callback: str | None,
        sid: str | None = None,
        parent: SimulatedCall | None = None,
    ) -> None:
        self.twilio = twilio
        self.sid = sid or new_sid()
        self.from_ = from_
        self.to = to
        self.direction = direction
        self.voice_url = voice_url
        self.status_callback = status_callback
        self.parent = parent
        self.status = "queued"
        self.where = "new"
        self.heard: list[str] = []
        self.commands: stdlib_queue.Queue[tuple[str, str]] = stdlib_queue.Queue()
        self.started_at = time.monotonic()
        self._gather: _Gather | None = None
        self._queue: tuple[str, str, str, float] | None = None  # name, action, wait url, since
        self._dial: _Dial | None = None
        self._conference: tuple[str, bool, str | None] | None = None
        self._doc_url = voice_url
        self.final_status: str | None = None

    def __repr__(self) -> str:  # the number stays out of reprs, as in the app
        return f"<SimulatedCall {self.sid} {self.where}>"

    # -- what Twilio sends

    @property
    def ended(self) -> bool:
        return self.where == "ended"

    def params(self, **extra: str) -> dict[str, str]:
        values = {
            "AccountSid": self.twilio.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Direction": self.direction,
            "From": self.from_,
            "To": self.to,
            "Caller": self.from_,
            "Called": self.to,
        }
        if self.parent is not None:
            values["ParentCallSid"] = self.parent.sid
        values.update(extra)
        return values

    def resource(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.twilio.account_sid,
            "from": self.from_,
            "to": self.to,
            "status": self.status,
            "direction": self.direction,
            "api_version": API_VERSION,
        }

    def _post(self, url: str, **extra: str) -> str:
        absolute = self.twilio.absolute(url, self._doc_url_abs())
        hook = self.twilio.post(absolute, self.params(**extra))
        return hook.body

    def _doc_url_abs(self) -> str:
        return self.twilio.absolute(self._doc_url)

    def _fetch(self, url: str, **extra: str) -> None:
        """Request a TwiML document and carry it out."""
        absolute = self.twilio.absolute(url, self._doc_url_abs())
        body = self._post(absolute, **extra)
        self._doc_url = absolute
        self._execute(body, absolute)

    # -- driving the call

    def start(self) -> SimulatedCall:
        """The call arrives (inbound) or is answered (outbound): Twilio fetches the voice URL."""
        self.status = "ringing" if self.direction == "inbound" else "in-progress"
        self._fetch(self.voice_url)
        if self.direction == "inbound" and self.where != "ended":
            self.status = "in-progress"
        return self

    def _execute(self, body: str, doc_url: str) -> None:
        if self.ended:
            return
        if not body.strip():
            self._end("completed")
            return
        root = _parse(body)
        self._run(list(root), doc_url)

    def _hear(self, element: ET.Element) -> None:
        if element.tag == "Say":
            self.heard.append((element.text or "").strip())
        elif element.tag == "Play":
            self.heard.append(f"[play] {(element.text or '').strip()}")

    def _run(self, verbs: list[ET.Element], doc_url: str) -> None:
        for index, verb in enumerate(verbs):
            if self.process_commands() or self.ended:
                return
            tag = verb.tag
            if tag in ("Say", "Play", "Pause"):
                self._hear(verb)
            elif tag == "Gather":
                for child in verb:
                    self._hear(child)
                self._gather = _Gather(
                    action=self.twilio.absolute(verb.get("action") or doc_url, doc_url),
                    on_empty=verb.get("actionOnEmptyResult") == "true",
                    rest=verbs[index + 1 :],
                    doc_url=doc_url,
                )
                self.where = "gather"
                return
            elif tag == "Redirect":
                self._fetch(self.twilio.absolute((verb.text or "").strip(), doc_url))
                return
            elif tag in ("Hangup", "Reject"):
                self._end("completed" if tag == "Hangup" else "busy")
                return
            elif tag == "Enqueue":
                name = (verb.text or "").strip()
                self._queue = (
                    name,
                    self.twilio.absolute(verb.get("action") or doc_url, doc_url),
                    self.twilio.absolute(verb.get("waitUrl") or "", doc_url),
                    time.monotonic(),
                )
                with self.twilio._lock:
                    self.twilio.queues.setdefault(name, []).append(self)
                self.where = "queue"
                return
            elif tag == "Dial":
                self._start_dial(verb, doc_url)
                return
            elif tag == "Leave":
                return
        self._end("completed")

    def _start_dial(self, verb: ET.Element, doc_url: str) -> None:
        action = verb.get("action")
        nouns = list(verb)
        conference = next((n for n in nouns if n.tag == "Conference"), None)
        if conference is not None:
            name = (conference.text or "").strip()
            end_on_exit = conference.get("endConferenceOnExit") == "true"
            self._conference = (
                name,
                end_on_exit,
                self.twilio.absolute(action, doc_url) if action else None,
            )
            with self.twilio._lock:
                self.twilio.conferences.setdefault(name, []).append(self)
            self.where = "conference"
            return
        if not nouns and (verb.text or "").strip():
            number = ET.Element("Number")
            number.text = (verb.text or "").strip()
            nouns = [number]
        self._dial = _Dial(
            action=self.twilio.absolute(action, doc_url) if action else None,
            doc_url=doc_url,
            nouns=nouns,
            caller_id=verb.get("callerId"),
        )
        self.where = "dial"

    def _end(self, status: str) -> None:
        if self.ended:
            return
        self._leave_queue()
        self._leave_conference(hung_up=True)
        if self._dial and self._dial.child is not None and not self._dial.child.ended:
            self._dial.child._end("completed")
        self.where = "ended"
        self.status = status
        self.final_status = status
        if self.status_callback:
            duration = int(time.monotonic() - self.started_at)
            self.twilio.post(
                self.twilio.absolute(self.status_callback),
                self.params(CallStatus=status, CallDuration=str(duration)),
            )

    def _leave_queue(self) -> None:
        if self._queue is not None:
            with self.twilio._lock:
                members = self.twilio.queues.get(self._queue[0], [])
                if self in members:
                    members.remove(self)

    def _leave_conference(self, *, hung_up: bool) -> None:
        if self._conference is None:
            return
        name, end_on_exit, _ = self._conference
        self._conference = None
        with self.twilio._lock:
            members = self.twilio.conferences.get(name, [])
            if self in members:
                members.remove(self)
            others = list(members) if end_on_exit else []
            if end_on_exit:
                self.twilio.conferences.pop(name, None)
        for other in others:
            other._conference_ended()

    def _conference_ended(self) -> None:
        if self._conference is None or self.ended:
            return
        _, _, action = self._conference
        self._conference = None
        if action:
            self._fetch(action, DialCallStatus="completed")
        else:
            self._end("completed")

    # -- REST commands

    def process_commands(self) -> bool:
        """Carry out queued REST commands; True if any was."""
        did = False
        while True:
            try:
                command, value = self.commands.get_nowait()
            except stdlib_queue.Empty:
                return did
            did = True
            if self.ended:
                continue
            if command == "hangup":
                self._end("completed")
            elif command == "redirect":
                self._redirect(value)

    def _redirect(self, url: str) -> None:
        self._leave_queue()
        self._queue = None
        self._gather = None
        self._leave_conference(hung_up=False)
        parent = self.parent
        if parent is not None and parent._dial is not None and parent._dial.child is self:
            # The operator's leg moves (a warm transfer): it follows the new URL, and the
            # caller's <Dial> ends, so its action runs.
            self.where = "moving"
            self._fetch(url)
            parent._dial_ended("completed", 0, self)
            return
        if self._dial is not None:
            child = self._dial.child
            self._dial = None
            if child is not None and not child.ended:
                child.where = "ended"
                child.status = "completed"
        self._fetch(url)

    # -- the caller's actions

    def press(self, digits: str) -> SimulatedCall:
        if self.where == "gather" and self._gather is not None:
            gather, self._gather = self._gather, None
            self._fetch(gather.action, Digits=digits)
            return self
        if self.where == "queue":
            self._wait_round(digits=digits)
            return self
        raise AssertionError(f"nothing to press {digits!r} on: the call is {self.where}")

    def silence(self) -> SimulatedCall:
        if self.where != "gather" or self._gather is None:
            raise AssertionError(f"no menu is waiting for a key: the call is {self.where}")
        gather, self._gather = self._gather, None
        if gather.on_empty:
            self._fetch(gather.action, Digits="")
        else:
            self._run(gather.rest, gather.doc_url)
        return self

    def hang_up(self) -> SimulatedCall:
        if self.ended:
            return self
        self.process_commands()
        if self.where == "queue" and self._queue is not None:
            _, action, _, since = self._queue
            self._leave_queue()
            self._queue = None
            self.twilio.post(
                action,
                self.params(QueueResult="hangup", QueueTime=str(int(time.monotonic() - since))),
            )
        self._end("completed")
        return self

    def listen(self, rounds: int = 1) -> SimulatedCall:
        """Hear the wait document `rounds` times (position, expected wait, music)."""
        for _ in range(rounds):
            if self.where != "queue":
                break
            self._wait_round()
        return self

    def wait_in_queue(
        self, timeout: float = 10.0, *, pace: float = 0.0, stop: threading.Event | None = None
    ) -> bool:
        """Wait until the call leaves the queue (False on timeout or `stop`), fetching the wait
        document every `pace` seconds (Twilio plays it through first: ~25 s on a real line)."""
        deadline = time.monotonic() + timeout
        next_round = 0.0
        while self.where == "queue" and time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                break
            if self.process_commands():
                continue
            if time.monotonic() >= next_round:
                self._wait_round()
                next_round = time.monotonic() + pace
            if self.where == "queue":
                time.sleep(0.02)
        return self.where != "queue"

    def _wait_round(self, digits: str | None = None) -> None:
        if self._queue is None:
            return
        name, _, wait_url, since = self._queue
        with self.twilio._lock:
            members = self.twilio.queues.get(name, [])
            position = members.index(self) + 1 if self in members else 1
            size = len(members)
        waited = str(int(time.monotonic() - since))
        body = self._post(
            wait_url,
            QueuePosition=str(position),
            QueueSid=new_sid("QU"),
            QueueTime=waited,
            AvgQueueTime=waited,
            CurrentQueueSize=str(size),
        )
        root = _parse(body)
        for verb in root:
            if self.process_commands() or self.where != "queue":
                return
            if verb.tag in ("Say", "Play", "Pause"):
                self._hear(verb)
            elif verb.tag == "Gather":
                for child in verb:
                    self._hear(child)
                if digits is not None:
                    answer = self._post(
                        self.twilio.absolute(verb.get("action") or wait_url, wait_url),
                        Digits=digits,
                    )
                    digits = None
                    reply = _parse(answer)
                    for inner in reply:
                        self._hear(inner)
                        if inner.tag == "Leave":
                            self._leave_to_action("leave")
                            return
            elif verb.tag == "Leave":
                self._leave_to_action("leave")
                return
            elif verb.tag == "Hangup":
                self.hang_up()
                return

    def _leave_to_action(self, result: str) -> None:
        assert self._queue is not None
        _, action, _, since = self._queue
        self._leave_queue()
        self._queue = None
        self.where = "left"
        self._fetch(action, QueueResult=result, QueueTime=str(int(time.monotonic() - since)))

    # -- the operator's leg of a <Dial>

    def _dial_noun(self) -> ET.Element:
        if self.where != "dial" or self._dial is None or not self._dial.nouns:
            raise AssertionError(f"no operator is being dialled: the call is {self.where}")
        return self._dial.nouns[0]

    @property
    def dialled(self) -> str | None:
        """Who the call is ringing: "client:operator_3" or a desk number."""
        if self.where != "dial" or self._dial is None or not self._dial.nouns:
            return None
        noun = self._dial.nouns[0]
        if noun.tag == "Client":
            identity = noun.find("Identity")
            name = identity.text if identity is not None else noun.text
            return f"client:{(name or '').strip()}"
        return (noun.text or "").strip()

    @property
    def shown_to_dialled(self) -> str | None:
        """The caller ID the dialled party sees: the <Dial>'s callerId, else, as Twilio does, the
        caller's own number."""
        if self.where != "dial" or self._dial is None:
            return None
        return self._dial.caller_id or self.from_

    def operator_answers(self) -> SimulatedCall:
        noun = self._dial_noun()
        assert self._dial is not None
        child = SimulatedCall(
            self.twilio,
            from_=self.shown_to_dialled or self.from_,
            to=self.dialled or "",
            direction="outbound-dial",
            voice_url="",
            status_callback=None,
            parent=self,
        )
        child.where = "bridged"
        child.status = "in-progress"
        self.twilio.register(child)
        self._dial.child = child
        self._dial.answered_at = time.monotonic()
        callback = noun.get("statusCallback")
        if callback and "answered" in (noun.get("statusCallbackEvent") or ""):
            self.twilio.post(
                self.twilio.absolute(callback, self._dial.doc_url),
                child.params(CallStatus="in-progress"),
            )
        return self

    def operator_hangs_up(self) -> SimulatedCall:
        """The operator ends the conversation: the <Dial> ends and its action runs."""
        noun = self._dial_noun()
        assert self._dial is not None
        dial = self._dial
        duration = int(time.monotonic() - (dial.answered_at or time.monotonic()))
        child = dial.child
        if child is not None:
            child.where = "ended"
            callback = noun.get("statusCallback")
            if callback and "completed" in (noun.get("statusCallbackEvent") or ""):
                self.twilio.post(
                    self.twilio.absolute(callback, dial.doc_url),
                    child.params(CallStatus="completed", CallDuration=str(duration)),
                )
        return self._dial_ended("completed", duration, child)

    def operator_misses(self, status: str = "no-answer") -> SimulatedCall:
        """The operator's browser or phone does not answer (no-answer, busy, failed)."""
        self._dial_noun()
        return self._dial_ended(status, 0, None)

    def _dial_ended(self, status: str, duration: int, child: SimulatedCall | None) -> SimulatedCall:
        assert self._dial is not None
        action = self._dial.action
        self._dial = None
        self.where = "dialled"
        extra = {"DialCallStatus": status, "DialCallDuration": str(duration)}
        if child is not None:
            extra["DialCallSid"] = child.sid
        if action:
            self._fetch(action, **extra)
        else:
            self._end("completed")
        return self

    # -- outbound calls the app placed (callbacks, colleagues)

    def no_answer(self) -> None:
        self._end("no-answer")

    def busy(self) -> None:
        self._end("busy")

    def answer(self) -> SimulatedCall:
        return self.start()


def iter_calls(twilio: SimulatedTwilio) -> Iterator[SimulatedCall]:
    yield from list(twilio.calls.values())


# ---------------------------------------------------------------- scripted callers


@dataclass(frozen=True)
class Script:
    """One simulated caller: keys to press in the menu, patience in the queue, length of talk."""

    from_: str = "+32470000001"
    keys: tuple[str, ...] = ("1", "0")
    patience: float = 60.0
    talk: float = 20.0
    operator_delay: float = 1.0
    # Seconds between two fetches of the wait document.
    pace: float = 5.0


def run_script(
    twilio: SimulatedTwilio, script: Script, stop: threading.Event | None = None
) -> SimulatedCall:
    """Play one whole call: menu, queue, the operator answering, talk, hang-up."""
    stop = stop or threading.Event()
    call = twilio.call(from_=script.from_).start()
    for key in script.keys:
        if call.where != "gather":
            break
        call.press(key)
    if call.where == "queue":
        call.wait_in_queue(timeout=script.patience, pace=script.pace, stop=stop)
    if call.where == "dial" and not stop.wait(script.operator_delay):
        call.operator_answers()
        stop.wait(script.talk)
    if not call.ended:
        call.hang_up()
    return call


def simulate_call(
    target: Any,
    *,
    auth_token: str,
    account_sid: str,
    public_base_url: str | None = None,
    script: Script | None = None,
) -> SimulatedCall:
    """One scripted call against an app (a Flask app, its test client, or a server URL)."""
    twilio = SimulatedTwilio(
        target, auth_token=auth_token, account_sid=account_sid, public_base_url=public_base_url
    )
    return run_script(twilio, script or Script())


_counter = itertools.count(1)


def install(app: Any) -> SimulatedTwilio:
    """Make `app` talk to a SimulatedTwilio (its REST client included), for the demo and tests."""
    from telephony import runtime
    from telephony.rest import TwilioRest

    rt = app.extensions["telephony"]
    twilio = SimulatedTwilio(
        app,
        auth_token=rt.tset.auth_token,
        account_sid=rt.tset.account_sid or "AC" + "0" * 32,
        public_base_url=rt.tset.public_base_url,
    )
    rt.rest = TwilioRest(rt.tset, http_client=twilio.api)
    if rt.tset.account_sid is None:
        rt.tset = _with_account(rt.tset, twilio.account_sid)
        rt.rest = TwilioRest(rt.tset, http_client=twilio.api)
    runtime.configure(rt)
    app.extensions["telephony.simulator"] = twilio
    return twilio


def _with_account(tset: Any, account_sid: str) -> Any:
    from dataclasses import replace

    return replace(tset, account_sid=account_sid)


def demo_numbers() -> Iterator[str]:
    """Distinct, obviously fictional Belgian mobile numbers for the demo's callers."""
    for n in _counter:
        yield f"+3247{n % 10000000:07d}"


class DemoCalls:
    """The demo's stream of simulated phone calls; `stop()` hangs them all up."""

    def __init__(self, app: Any, interval: float) -> None:
        self.twilio: SimulatedTwilio = app.extensions.get("telephony.simulator") or install(app)
        self.interval = interval
        self.stopping = threading.Event()
        self.calls: list[threading.Thread] = []
        self._numbers = demo_numbers()
        self._digits = [lang.digit for lang in app.extensions["telephony"].tset.languages]
        self._rng = random.Random()
        self._loop = threading.Thread(target=self._run, daemon=True, name="demo-calls")

    def start(self) -> DemoCalls:
        self._loop.start()
        return self

    def script(self) -> Script:
        rng = self._rng
        return Script(
            from_=next(self._numbers),
            keys=(rng.choice(self._digits), str(rng.randint(0, 4))),
            patience=rng.uniform(30, 120),
            talk=rng.uniform(15, 60),
            operator_delay=rng.uniform(0.5, 2.0),
        )

    def _one(self) -> None:
        try:
            run_script(self.twilio, self.script(), stop=self.stopping)
        except Exception:
            log.warning("a simulated demo call failed", exc_info=True)

    def _run(self) -> None:
        # The first caller rings at once: someone opening the demo should not wait for the phone.
        while True:
            thread = threading.Thread(target=self._one, daemon=True, name="demo-call")
            self.calls = [t for t in self.calls if t.is_alive()] + [thread]
            thread.start()
            if self.stopping.wait(self._rng.uniform(self.interval * 0.5, self.interval * 1.5)):
                break

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self._loop.join(timeout)
        for thread in list(self.calls):
            thread.join(timeout)


def start_demo_calls(app: Any, *, interval: float = 20.0) -> DemoCalls:
    """Simulated callers phoning `app` every `interval` seconds (on average), in threads.

    The demo's operators answer in the console as usual; since no real Twilio can ring their
    browser, the simulated call "answers" for them a moment after the bridge, talks for a while,
    then hangs up, so the contact moves to wrap-up like a real one.
    """
    return DemoCalls(app, interval).start()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
