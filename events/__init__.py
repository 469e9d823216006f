"""The pure core of the log: event values, their canonical bytes, and hashing.

Nothing here does I/O, reads the clock or makes ids; time and ids arrive as arguments.
"""
