"""Persistence of the breaker windows: the protocol (`base`), DynamoDB (`dynamodb`), memory (`memory`)."""
