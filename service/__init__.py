"""The imperative shell, one subpackage per capability: log, read, commands, transparency, demo, runtime
(docs/architecture.md draws what each may import)."""
