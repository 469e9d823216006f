"""The imperative shell: configuration, PostgreSQL, the event store, the CLI and the web app."""
