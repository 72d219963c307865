"""The widget's texts. They live in the Babel catalogs shared with the console (console/i18n.py);
the widget receives them already translated, in the language the visitor chose."""

from __future__ import annotations

from flask_babel import gettext

from console.i18n import language as in_language
from console.settings import Settings


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, in the visitor's language."""
    return message


STRINGS: dict[str, str] = {
    "launcher": N_("Chat with us"),
    "title": N_("Chat with %(name)s"),
    # The browser tab and history show this, and a quick exit does not erase history: it must
    # not tell whoever shares the device that the visitor sought help.
    "page_title": N_("Notes"),
    "intro": N_("Write to someone from the helpline. It is free and confidential."),
    "quick_exit": N_("Quick exit"),
    "quick_exit_hint": N_("To leave this page fast, press Esc three times."),
    "minimise": N_("Minimise the chat"),
    "language": N_("Language"),
    "topic": N_("Topic (optional)"),
    "topic_none": N_("I would rather not say"),
    "privacy_heading": N_("Your privacy"),
    "privacy": N_(
        "You stay anonymous. We do not ask for your name, e-mail or phone number, and we do not "
        "keep your IP address. What you write is deleted when the chat ends."
    ),
    "privacy_retention": N_(
        "You stay anonymous. We do not ask for your name, e-mail or phone number, and we do not "
        "keep your IP address. What you write is deleted %(days)s days after the chat ends."
    ),
    "start": N_("Start the chat"),
    "closed_heading": N_("The chat is closed right now"),
    "hours_heading": N_("Opening hours"),
    "emergency": N_("In an emergency, call %(number)s."),
    "closed_day": N_("Closed"),
    "monday": N_("Monday"),
    "tuesday": N_("Tuesday"),
    "wednesday": N_("Wednesday"),
    "thursday": N_("Thursday"),
    "friday": N_("Friday"),
    "saturday": N_("Saturday"),
    "sunday": N_("Sunday"),
    "waiting_heading": N_("Waiting for a helpline worker"),
    "position": N_("You are number %(position)s in the queue."),
    "wait_soon": N_("Someone should be with you in about a minute."),
    "wait_minutes": N_("Expected wait: about %(minutes)s minutes."),
    "wait_note": N_("You can already write your message. Please keep this page open."),
    "connected": N_("You are now talking with a helpline worker."),
    "transferred": N_("You are being passed to another helpline worker. Please wait."),
    "typing": N_("The helpline worker is typing…"),
    "log": N_("Conversation"),
    "message": N_("Your message"),
    "send": N_("Send"),
    "you": N_("You"),
    "helpline": N_("Helpline"),
    "sending": N_("Sending…"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "queued_offline": N_("Not sent yet: waiting for the connection."),
    "chars_left": N_("%(count)s characters left"),
    "end": N_("End the chat"),
    "ended_heading": N_("The chat has ended"),
    "ended_by_operator": N_("The helpline worker has ended the chat."),
    "ended_by_you": N_("You have ended the chat."),
    "survey_heading": N_("How did it go? (optional)"),
    "survey_note": N_("Your answers are anonymous."),
    "survey_send": N_("Send my answers"),
    "survey_skip": N_("Skip"),
    "thanks": N_("Thank you. You can close this page now."),
    "case_ref_label": N_(
        "Give me a case reference, so that I can come back to this conversation later."
    ),
    "case_ref_note": N_("Only the reference links you to the case. Your name is never asked."),
    "case_ref_given": N_("Your case reference is %(ref)s. Keep it somewhere safe."),
    "case_ref_unavailable": N_("A case reference cannot be given right now."),
    "rate_limited": N_(
        "You are sending messages very quickly. Your next message will be sent in a few seconds."
    ),
    "too_long": N_("This message is too long. Please make it shorter."),
    "reconnecting": N_("Connection lost. Reconnecting…"),
    "blocked": N_("The chat is not available to you at the moment."),
    "error": N_("Something went wrong. Please try again."),
    "expired": N_("This chat is no longer available."),
    "new_chat": N_("Start a new chat"),
}

# Default topic labels of config/topics.toml, so that the catalogs carry them too.
TOPIC_LABELS = (
    N_("Information and support"),
    N_("Domestic violence"),
    N_("Sexual violence"),
    N_("Police, court and compensation"),
    N_("Victim of crime abroad"),
)

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def widget_strings(code: str, settings: Settings, retention_days: int) -> dict[str, str]:
    """Every widget text in language `code`, with the helpline's own values filled in."""
    values = {
        "name": settings.helpline_name,
        "number": settings.emergency_number,
        "days": str(retention_days),
        "position": "{position}",
        "minutes": "{minutes}",
        "count": "{count}",
        "ref": "{ref}",
    }
    with in_language(code):
        result = {key: gettext(message, **values) for key, message in STRINGS.items()}
    retained = result.pop("privacy_retention")
    if retention_days > 0:
        result["privacy"] = retained
    return result


def topic_label(code: str, label: str) -> str:
    with in_language(code):
        return str(gettext(label))
