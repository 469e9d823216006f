"""The demo data set: its name tables, the pure generator, and the loader that records it through the
commands. It rests on the log and the commands."""
