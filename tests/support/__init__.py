"""Helpers the tests share: processes of the hub, a GraphQL client, waiting."""
