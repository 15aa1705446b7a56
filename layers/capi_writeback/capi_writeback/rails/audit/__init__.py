"""The append-only audit trail: `log` (AuditRow, AuditLog, iso_ms), `exceptions`, `persistence/`.
Import the module you need: this package imports none of them."""
