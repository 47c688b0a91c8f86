"""What a test adds to a production process's environment so that it starts (project/secret_key.py).

A key of this test run's own, and plain HTTP on loopback (DJANGO_HTTPS=false), as every
server a test starts is reached without the TLS proxy: the HTTPS defaults stay as they
were with the development key. A test of the HTTPS mode sets its own SECRET_KEY instead.
"""

from __future__ import annotations

import secrets

PLAIN_HTTP_DEPLOYMENT = {"SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_HTTPS": "false"}
