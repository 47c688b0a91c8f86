"""Settings of the app that the nginx tests serve with gunicorn: production settings
(project.settings, read from the environment) and one extra URL that shows what Django
saw of the request nginx passed on."""

from project.settings import *  # noqa: F403

ROOT_URLCONF = "tests.deploy.web_urls"
