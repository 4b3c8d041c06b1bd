"""zakrila flows: Prefect flows and tasks, connectors, publishing, reports and the CLI."""

from flows import settings as _settings  # noqa: F401  (must run before Prefect is imported)
