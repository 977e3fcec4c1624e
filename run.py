"""The WSGI entry point: uwsgi (`module = run:app`) and `flask --app run` load `app` from here."""

import sys

from app import create_app
from config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One clear line instead of a traceback; uwsgi's need-app then refuses to start.
    sys.exit(f"configuration error: {error}")
