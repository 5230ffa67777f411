"""The HTTP surface: GraphQL at ``/graphql``, agents' registration, metrics, health, the UI."""
