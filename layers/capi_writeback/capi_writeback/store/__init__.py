"""Storage that is not a rail: the directory (workspaces, members, tokens, profiles) and the stored
conversions, each with `base` (protocol), `dynamodb` and `memory` backends; `_dynamo` is what every
DynamoDB backend (the rails' too) shares: the client, codecs and batch retries."""

from capi_writeback.store._dynamo import client, reset_client

__all__ = ["client", "reset_client"]
