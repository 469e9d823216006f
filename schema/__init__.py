"""The GraphQL API: a thin strawberry adapter whose resolvers call `service/`."""

# The domain's enums get their GraphQL names and descriptions before any type refers to them.
from schema import enums

__all__ = ["enums"]
