"""Persistence of the audit trail: the protocol (`base`), DynamoDB (`dynamodb`), memory (`memory`)."""
