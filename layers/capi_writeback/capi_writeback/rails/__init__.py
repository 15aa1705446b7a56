"""The safety rails of confirm (SPEC §6), one package per capability: `idempotency` (the confirm
ledger), `breaker` (the per-profile circuit breaker), `audit` (the append-only trail).

Each package holds its rules (`ledger.py`, `circuit.py`, `log.py`), the domain exceptions it raises
(`exceptions.py`: no HTTP status; the boundary maps them, see `capi_writeback.errors`) and its
`persistence/`: the protocol (`base.py`), DynamoDB (`dynamodb.py`) and memory (`memory.py`)
backends. `clock.py` is the time they all read. Nothing here imports boto3 until a DynamoDB backend
makes its first call.
"""
