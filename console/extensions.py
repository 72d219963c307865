"""Flask extensions, created unbound and bound to an app with `init_app` in the app factory."""

from __future__ import annotations

from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect

socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
