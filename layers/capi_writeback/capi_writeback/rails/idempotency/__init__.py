"""The confirm's idempotency ledger: `ledger` (claim a key, record accepted batches, finish),
`exceptions`, `persistence/`. Import the module you need: this package imports none of them, so
reading `exceptions` (every boundary does) does not load the ledger."""
