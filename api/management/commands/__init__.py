"""`manage.py seed_demo`, `manage.py reindex_search`."""
