"""Elasticsearch: the SearchIndex adapter (search.py) and its client (client.py).

The index definition and the queries live in search/experts.py; this package
sends them, maps the answers and turns every driver error into PortError.
"""
