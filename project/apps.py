from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Configures the container from settings and wires the entrypoints, once per process."""

    name = "project"
    verbose_name = "ExpertHub"

    def ready(self) -> None:
        from project.secret_key import refuse_insecure_secret_key

        refuse_insecure_secret_key()  # first: nothing may run, let alone serve, on a known key

        from project import checks  # noqa: F401  (registers the system checks)
        from project.container import configure, container

        configure(container)
        container.wire(packages=["api"])

        from project import metrics

        metrics.install()  # SQL and Celery task metrics, in every process (web, worker, commands)
