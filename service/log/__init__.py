"""The log: the event store (group-commit writer, append lock, bulk import, reads), its connections, wake-ups,
named queries and migrations. It imports no other capability."""
