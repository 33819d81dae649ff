"""The GraphQL schema: strawberry types mirroring the domain areas, resolvers and per-request dataloaders."""
