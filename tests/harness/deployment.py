"""What a test adds to a production process's environment so that it starts (project/secret_key.py).

The tests' own key (tests.settings uses it too, so a server a test starts accepts the tokens
the test mints in-process; never deployed), and plain HTTP on loopback (DJANGO_HTTPS=false), as every
server a test starts is reached without the TLS proxy: the HTTPS defaults stay as they
were with the development key. A test of the HTTPS mode sets its own SECRET_KEY instead.
"""

from __future__ import annotations

TEST_SECRET_KEY = "tests-only-key-never-deployed-9f3c1e7a5b2d4c6e8a0b1d3f5e7c9a2b4d6f8e0a"
PLAIN_HTTP_DEPLOYMENT = {"SECRET_KEY": TEST_SECRET_KEY, "DJANGO_HTTPS": "false"}
