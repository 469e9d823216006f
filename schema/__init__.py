"""The GraphQL adapter: strawberry types whose resolvers call `service/`."""
