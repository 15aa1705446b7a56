"""The single-event send's exactly-once ledger (SPEC §8): `ledger` (claim an event, finish or release
it), `exceptions`, `persistence/`. Import the module you need: this package imports none of them, so
reading `exceptions` (every boundary does) does not load the ledger."""
