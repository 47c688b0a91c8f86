"""Redis adapters: the client factory and the Redis-native view counter (the NoSQL worked example)."""
