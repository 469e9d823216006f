"""The error hierarchy shared by the core and the service.

Errors carry data, so callers (GraphQL unions, the CLI) can render them without parsing messages.
"""

from __future__ import annotations


class QinglianError(Exception):
    """Base of every expected failure; anything else is a bug and is masked to clients."""


class CodecError(QinglianError):
    """A value cannot be put into, or read from, the canonical form."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path or '<root>'}: {reason}")


class UnknownEventType(CodecError):
    """A stored or proposed event names a type or version the registry does not know."""

    def __init__(self, type_: str, version: int) -> None:
        self.type = type_
        self.version = version
        super().__init__("type", f"unknown event type {type_!r} version {version}")


class InvalidAppend(QinglianError):
    """An append request is malformed: bad stream id, no events, bad idempotency key."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class VersionConflict(QinglianError):
    """The stream was not at the version the caller expected; nothing was written."""

    def __init__(self, stream: str, expected: str, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        super().__init__(f"stream {stream!r} expected version {expected}, actual {actual}")


class IdempotencyKeyReused(QinglianError):
    """An idempotency key came back with a different request than the one it first carried."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class ValidationError(QinglianError):
    """A command breaks one or more rules; each error names the field and the rule. Nothing was written."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
