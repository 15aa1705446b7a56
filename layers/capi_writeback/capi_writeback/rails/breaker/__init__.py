"""The per-profile circuit breaker of confirm: `circuit` (the rules), `exceptions`, `persistence/`.
Import the module you need: this package imports none of them."""
