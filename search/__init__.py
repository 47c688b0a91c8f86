"""Search index definitions shared by every search adapter: analysers, field weights, query terms.

Engine-neutral; imports only ``domain``. Elasticsearch mappings will live here too.
"""
