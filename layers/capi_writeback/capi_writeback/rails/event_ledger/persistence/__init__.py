"""Persistence of the event ledger: the protocol (`base`), DynamoDB (`dynamodb`), memory (`memory`)."""
