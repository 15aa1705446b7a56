"""Persistence of the syncs: the protocols (`base`), DynamoDB (`dynamodb`), memory (`memory`)."""
