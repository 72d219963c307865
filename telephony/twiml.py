"""Every TwiML document the line answers with, built with twilio's voice_response (no XML by hand).

URLs in the documents are relative: Twilio resolves them against the URL it just requested, so
they stay right behind any proxy and sign the way the webhook check expects.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from console.domain.hours import OpeningHours
from telephony.settings import TelephonySettings, VoiceLanguage
from telephony.speech import Speaker


def path(route: str, **query: str | int | None) -> str:
    params = {k: str(v) for k, v in query.items() if v is not None}
    return f"/voice/{route}" + (f"?{urlencode(params)}" if params else "")


def _gather(node: VoiceResponse, action: str, tset: TelephonySettings, digits: int = 1) -> Gather:
    return node.gather(
        num_digits=digits,
        action=action,
        method="POST",
        timeout=tset.gather_timeout,
        action_on_empty_result=True,
    )


def language_menu(tset: TelephonySettings, suggested: VoiceLanguage) -> VoiceResponse:
    """The greeting in the likely language, then each language offered in its own voice."""
    response = VoiceResponse()
    gather = _gather(response, path("language", s=suggested.code), tset)
    Speaker(tset, suggested).speak(gather, "greeting")
    for lang in tset.languages:
        Speaker(tset, lang).speak(gather, "language_option", digit=lang.digit)
    return response


def topic_menu(tset: TelephonySettings, lang: VoiceLanguage) -> VoiceResponse:
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    gather = _gather(response, path("topic", l=lang.code), tset)
    speaker.speak(gather, "topic_intro")
    for index, topic in enumerate(tset.topics, start=1):
        speaker.speak(gather, "topic_option", topic=lang.topic_names[topic], digit=index)
    speaker.speak(gather, "topic_skip")
    return response


def closed(
    tset: TelephonySettings,
    lang: VoiceLanguage,
    hours: OpeningHours,
    *,
    offer_languages: bool,
) -> VoiceResponse:
    """Out of hours: the hours, the emergency number and other lines, in the caller's language.

    On the first hearing the other languages are offered, so a caller whose number suggested the
    wrong one can hear it all again in theirs.
    """
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    target = _gather(response, path("closed"), tset) if offer_languages else response
    speaker.speak(target, "closed", hours=speaker.hours(hours))
    alternatives = hours.alternatives.get(lang.code, "")
    if tset.emergency_number not in alternatives:
        speaker.speak(target, "emergency")
    if alternatives:
        speaker.say(target, alternatives)
    if offer_languages and len(tset.languages) > 1:
        for other in tset.languages:
            if other.code != lang.code:
                Speaker(tset, other).speak(target, "language_option", digit=other.digit)
        return response
    speaker.speak(response, "goodbye")
    response.hangup()
    return response


def blocked(tset: TelephonySettings, lang: VoiceLanguage) -> VoiceResponse:
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    speaker.speak(response, "blocked")
    speaker.speak(response, "emergency")
    response.hangup()
    return response


def enqueue(tset: TelephonySettings, lang: VoiceLanguage, *, intro: str | None) -> VoiceResponse:
    response = VoiceResponse()
    if intro:
        Speaker(tset, lang).speak(response, intro)
    response.enqueue(
        tset.queue_name,
        action=path("queue-result"),
        method="POST",
        wait_url=path("wait", l=lang.code),
        wait_url_method="POST",
    )
    return response


def wait(
    tset: TelephonySettings,
    lang: VoiceLanguage,
    *,
    position: int | None,
    minutes: int | None,
    offer_callback: bool,
    partner: str | None = None,
) -> VoiceResponse:
    """Played in a loop while the caller waits: place and expected wait, the partner line the
    shift lead opened for this language (if any), then music or silence."""
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    if position is not None:
        speaker.speak(response, "position", position=position)
    if minutes is not None:
        if minutes <= 1:
            speaker.speak(response, "estimate_short")
        else:
            speaker.speak(response, "estimate", minutes=minutes)
    if partner:
        speaker.speak(response, "partner_line", partner=partner)
    holder = response
    if offer_callback:
        holder = response.gather(
            num_digits=1, action=path("wait-key", l=lang.code), method="POST", timeout=1
        )
        speaker.speak(holder, "callback_offer", key=tset.callback.key)
    if tset.hold_music_url:
        holder.play(tset.hold_music_url)
    else:
        holder.pause(length=tset.wait_pause_seconds)
    return response


def hold(seconds: int = 2) -> VoiceResponse:
    """A short silence while a redirect that is already under way takes the call on."""
    response = VoiceResponse()
    response.pause(length=seconds)
    return response


def leave() -> VoiceResponse:
    response = VoiceResponse()
    response.leave()
    return response


def empty() -> VoiceResponse:
    return VoiceResponse()


def goodbye(tset: TelephonySettings, lang: VoiceLanguage, prompt: str = "goodbye") -> VoiceResponse:
    response = VoiceResponse()
    Speaker(tset, lang).speak(response, prompt)
    response.hangup()
    return response


def unavailable(
    tset: TelephonySettings, lang: VoiceLanguage, caller_id: str | None
) -> VoiceResponse:
    """The Twilio queue refused the caller: say so and hand them to the partner line."""
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    speaker.speak(response, "unavailable")
    if tset.overflow_number:
        response.dial(tset.overflow_number, caller_id=caller_id)
    else:
        speaker.speak(response, "emergency")
    response.hangup()
    return response


def bridge(
    tset: TelephonySettings,
    lang: VoiceLanguage,
    *,
    contact_id: int,
    operator_id: int,
    desk_phone: str | None,
    caller_id: str | None,
) -> VoiceResponse:
    """Ring the operator who accepted: their browser (Voice SDK identity) or their desk phone.

    The operator's phone or browser is shown the line's number, never the caller's, which
    Twilio would otherwise pass on.
    """
    response = VoiceResponse()
    Speaker(tset, lang).speak(response, "connecting")
    dial = Dial(
        action=path("dial-result", c=contact_id),
        method="POST",
        timeout=tset.dial_timeout,
        answer_on_bridge=True,
        caller_id=caller_id or (None if desk_phone else CLIENT_CALLER_ID),
    )
    status = path("operator-leg", c=contact_id)
    if desk_phone:
        dial.number(
            desk_phone,
            status_callback=status,
            status_callback_event="answered completed",
            status_callback_method="POST",
        )
    else:
        client = dial.client(
            status_callback=status,
            status_callback_event="answered completed",
            status_callback_method="POST",
        )
        client.identity(client_identity(operator_id))
        client.parameter(name="contact_id", value=str(contact_id))
    response.append(dial)
    return response


# What a browser operator is shown when the line's own number is unknown (Twilio accepts any
# client name as the caller ID of a <Client> dial).
CLIENT_CALLER_ID = "client:helpline"


def line_caller_id(tset: TelephonySettings, line: str | None) -> str | None:
    """The caller ID of every call the line places or passes on: the configured number, else the
    number the caller dialled. Without one, Twilio would show the caller's own number."""
    return tset.callback.caller_id or line


def client_identity(operator_id: int) -> str:
    """The Voice SDK identity: letters, digits and underscore only, and no name in it."""
    return f"operator_{operator_id}"


def conference(name: str, *, end_on_exit: bool, wait_music: bool) -> VoiceResponse:
    response = VoiceResponse()
    dial = Dial(action=path("conference-end", n=name), method="POST")
    dial.conference(
        name,
        start_conference_on_enter=True,
        end_conference_on_exit=end_on_exit,
        beep=False,
        wait_url="" if not wait_music else None,
    )
    response.append(dial)
    return response


def callback_explain(tset: TelephonySettings, lang: VoiceLanguage) -> VoiceResponse:
    response = VoiceResponse()
    gather = _gather(response, path("callback/consent", l=lang.code), tset)
    Speaker(tset, lang).speak(gather, "callback_explain")
    return response


def callback_windows(
    tset: TelephonySettings,
    lang: VoiceLanguage,
    windows: list[tuple[dt.datetime, dt.datetime]],
    *,
    reference: int,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> VoiceResponse:
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    gather = _gather(response, path("callback/window", l=lang.code, t=reference), tset)
    for digit, (start, end) in enumerate(windows, start=1):
        speaker.speak(
            gather, "callback_window", window=speaker.window(start, end, now, tz), digit=digit
        )
    return response


def callback_confirmed(
    tset: TelephonySettings,
    lang: VoiceLanguage,
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    tz: dt.tzinfo,
) -> VoiceResponse:
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    speaker.speak(response, "callback_confirmed", window=speaker.window(*window, now, tz))
    response.hangup()
    return response


def callback_greeting(
    tset: TelephonySettings, lang: VoiceLanguage, callback_id: int
) -> VoiceResponse:
    """What the caller hears on picking up: discreet (no line name), a key to say it is safe."""
    response = VoiceResponse()
    speaker = Speaker(tset, lang)
    gather = _gather(response, path("callback/confirm", cb=callback_id), tset)
    speaker.speak(gather, "callback_greeting")
    speaker.speak(gather, "callback_greeting")
    return response


def fallback(tset: TelephonySettings) -> VoiceResponse:
    """The document Twilio plays when the app cannot answer (served as a static file)."""
    response = VoiceResponse()
    lang = tset.default_language
    speaker = Speaker(tset, lang)
    for language in tset.languages:
        Speaker(tset, language).speak(response, "fallback")
    if tset.overflow_number:
        response.dial(tset.overflow_number, caller_id=tset.callback.caller_id)
    speaker.speak(response, "emergency")
    response.hangup()
    return response
