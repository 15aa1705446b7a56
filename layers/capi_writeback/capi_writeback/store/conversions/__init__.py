"""Stored conversion rows (normalized and hashed at ingest): the protocol (`base`), DynamoDB
(`dynamodb`), memory (`memory`)."""
