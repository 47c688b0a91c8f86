"""Search index definitions shared by the search adapters: analysers, field weights, mappings, queries.

``text``: the engine-neutral analyser and field weights every adapter shares
(imports only ``domain``). ``experts``: the Elasticsearch index definition and
query building, written with ``elasticsearch.dsl`` (it builds objects, never
connects). ``batching``: fixed-size batches for bulk writes.
"""
