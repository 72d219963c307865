"""The visitor's HTTP side (blueprint `chat_visitor`, public by design): the standalone page, the
embeddable script, the widget's settings and texts, and the quick-exit beacon.

Nothing here sets a cookie or reads an address. Requests from the sites allowed to embed the widget
get CORS headers without credentials; everything else the widget does goes over its socket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from chat import conversations, strings
from chat.runtime import ChatRuntime
from console.db import utcnow
from console.web.security import public

STATIC = Path(__file__).parent / "static"

bp = Blueprint(
    "chat_visitor",
    __name__,
    static_folder="static",
    static_url_path="/chat/static",
    template_folder="templates",
)


def _runtime() -> ChatRuntime:
    rt: ChatRuntime = current_app.extensions["chat"]
    return rt


@bp.after_request
def _cors(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/").lower() in _runtime().chat.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers.add("Vary", "Origin")
    # The widget's page and its data say nothing a shared device should keep.
    response.headers["Cache-Control"] = "no-store"
    return response


def choose_language(requested: str | None, codes: tuple[str, ...]) -> str:
    if requested:
        requested = requested.strip().lower()
        if requested in codes:
            return requested
        base = requested.split("-", 1)[0]
        if base in codes:
            return base
    return request.accept_languages.best_match(codes) or codes[0]


def widget_config(rt: ChatRuntime, language: str) -> dict[str, Any]:
    settings = rt.settings
    texts = strings.widget_strings(language, settings, rt.chat.retention_days)
    now = utcnow()
    hours = [
        {"day": texts[day], "hours": texts["closed_day"] if label == "closed" else label}
        for day, label in rt.hours.describe()
    ]
    return {
        "language": language,
        "dir": "rtl" if language in strings.RTL_LANGUAGES else "ltr",
        "helpline": {
            "name": settings.helpline_name,
            "emergency_number": settings.emergency_number,
            "quick_exit_url": settings.quick_exit_url,
        },
        "languages": [{"code": lang.code, "name": lang.name} for lang in settings.languages],
        "topics": [
            {"code": t.code, "label": strings.topic_label(language, t.label)}
            for t in settings.topics
        ],
        "open": rt.hours.is_open(now),
        "hours": hours,
        "alternatives": rt.hours.alternatives.get(language) or rt.hours.alternatives.get("en", ""),
        "max_length": rt.chat.max_message_length,
        "survey": conversations.survey_questions(rt.chat, language),
        "case_reference": rt.chat.offer_case_reference,
        "strings": texts,
    }


@bp.route("/chat")
@public
def page() -> ResponseReturnValue:
    rt = _runtime()
    language = choose_language(request.args.get("lang"), rt.settings.language_codes)
    return render_template(
        "chat/page.html",
        language=language,
        direction="rtl" if language in strings.RTL_LANGUAGES else "ltr",
        title=strings.widget_strings(language, rt.settings, rt.chat.retention_days)["page_title"],
    )


@bp.route("/chat/widget.js")
@public
def widget_script() -> ResponseReturnValue:
    path = STATIC / "dist" / "widget.js"
    if not path.exists():
        return Response("/* the widget is not built: run `npm run build` */", 503)
    # Served uncached like everything here: a cached copy would show a visit on a shared device.
    return Response(path.read_bytes(), mimetype="text/javascript")


@bp.route("/chat/api/config")
@public
def config() -> ResponseReturnValue:
    rt = _runtime()
    language = choose_language(request.args.get("lang"), rt.settings.language_codes)
    return jsonify(widget_config(rt, language))


@bp.route("/chat/api/leave", methods=["POST"])
@public
def leave() -> ResponseReturnValue:
    """Quick exit's beacon: the page is already gone, so this is fire and forget.

    The body is the resume token as plain text (what `navigator.sendBeacon` sends without a
    preflight); knowing the token is the only proof needed, and it is then spent.
    """
    token = request.get_data(as_text=True)[:200].strip()
    rt = _runtime()
    with rt.database.transaction() as session:
        conversation = conversations.by_token(session, token)
        if conversation is not None:
            conversations.visitor_leaves(session, conversation, reason=conversations.QUICK_EXIT)
    return Response(status=204)
