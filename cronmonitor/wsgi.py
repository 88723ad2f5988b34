"""WSGI entry point, for gunicorn: `gunicorn cronmonitor.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cronmonitor.settings")
application = get_wsgi_application()
