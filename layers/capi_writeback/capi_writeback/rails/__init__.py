"""The safety rails of confirm (SPEC §6): idempotency ledger, circuit breaker, append-only audit log.

Each rail holds the rules and talks to a small store interface (`capi_writeback.store.base`); the
DynamoDB backends live in `capi_writeback.store.dynamodb`, an in-memory one in `store.memory`.
Submodules are imported on demand (cold start): `from capi_writeback.rails.breaker import ...`.
"""
