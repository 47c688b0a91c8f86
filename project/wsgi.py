"""WSGI entry point (gunicorn project.wsgi).

gunicorn's gevent worker monkey-patches the standard library before it imports this
module (preload_app stays off), so in every worker this runs after the patching and
before Django loads or connects: the place to make psycopg2 cooperative (without it
one query blocks every greenlet of the worker; project/database.py). Importing the
app in gunicorn's post_fork hook instead would import it before gevent patches.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


if _gevent_patched():
    from project.database import make_psycopg_cooperative

    make_psycopg_cooperative()

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after the patch above)

application = get_wsgi_application()
