"""Workspaces, members, API tokens and profiles: the protocol (`base`), DynamoDB (`dynamodb`),
memory (`memory`)."""
