"""Persistence of the confirm ledger: the protocol (`base`), DynamoDB (`dynamodb`), memory (`memory`)."""
