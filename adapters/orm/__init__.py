"""Django ORM adapters: models, migrations and the repositories that map rows to entities."""
