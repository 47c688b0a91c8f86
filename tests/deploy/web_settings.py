"""Settings of the app that the nginx tests serve with gunicorn: production settings
(project.settings, read from the environment) and one extra URL that shows what Django
saw of the request nginx passed on."""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.deploy.web_urls"

if "SECURE_PROXY_SSL_HEADER" not in globals():
    # project.settings does not trust X-Forwarded-Proto yet (the security settings are
    # another change's); behind the shipped nginx config it must, so the test sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
