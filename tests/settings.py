"""Test settings: the project's settings with test-speed choices. Not read from the environment."""

from project.settings import *  # noqa: F403
from project.settings import REST_FRAMEWORK, STATIC_ROOT

# Hashing passwords with a slow hasher would dominate the test run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest only exists after collectstatic; tests render admin and docs pages without it.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Generous limits; the throttling tests set tight ones themselves.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "register": "1000/min", "booking_create": "1000/min"},
}
EVENTS_BACKEND = "memory"
# WhiteNoise warns on every request when the static root is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
