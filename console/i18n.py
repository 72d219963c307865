"""Translations shared by the console and the channels: Babel catalogs under console/translations.

Sources are English; `console/translations/<lang>/LC_MESSAGES/messages.po` holds each configured
language. `scripts/setup` compiles them (`compile_catalogs`); compiled `.mo` files are not
committed.
Extract new strings with `pybabel extract -F babel.cfg -o console/translations/messages.pot .` and
merge them with `pybabel update -i console/translations/messages.pot -d console/translations`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import Babel, force_locale, gettext

from console.settings import Settings

TRANSLATIONS = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"

babel = Babel()


def init_app(app: Flask, settings: Settings) -> None:
    codes = list(settings.language_codes)
    app.config["BABEL_DEFAULT_LOCALE"] = SOURCE_LANGUAGE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)

    def select_locale() -> str:
        forced = g.get("helpline_locale") if has_app_context() else None
        if forced:
            return str(forced)
        if has_request_context():
            return request.accept_languages.best_match(codes) or SOURCE_LANGUAGE
        return SOURCE_LANGUAGE

    babel.init_app(app, locale_selector=select_locale)


@contextmanager
def language(code: str) -> Iterator[None]:
    """Translate into `code` within the block (a visitor's chosen language, not the browser's)."""
    with force_locale(code):
        yield


def translate(code: str, message: str, **values: object) -> str:
    with force_locale(code):
        return str(gettext(message, **values))


def compile_catalogs(directory: Path = TRANSLATIONS) -> int:
    """Compile every `.po` whose `.mo` is missing or older; returns how many were compiled."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    count = 0
    for po in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parent.parent.name)
        with mo.open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        count += 1
    return count


if __name__ == "__main__":
    print(f"compiled {compile_catalogs()} catalogs")
