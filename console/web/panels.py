"""Panels that features and channels add to the operator's console page.

A panel is a Jinja template included in the console grid and, optionally, an ES module bundle
served from the registering blueprint's static folder. Panels talk to the console through
`window.helplineConsole` and the `helpline:*` DOM events that console.js dispatches.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask


@dataclass(frozen=True)
class ConsolePanel:
    name: str
    template: str
    static_endpoint: str = "static"
    script: str | None = None  # path inside that static folder, e.g. "dist/chat-panel.js"


def register_panel(app: Flask, panel: ConsolePanel) -> None:
    panels: list[ConsolePanel] = app.extensions.setdefault("helpline.console_panels", [])
    if all(p.name != panel.name for p in panels):
        panels.append(panel)
