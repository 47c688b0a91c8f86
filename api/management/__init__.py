"""Management commands: entrypoints that get their use cases from the container."""
