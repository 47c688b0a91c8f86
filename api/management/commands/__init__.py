"""Management commands: `seed_demo`, `search_rebuild`, `blobstore_setup`."""
