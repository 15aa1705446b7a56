"""Warehouse syncs (SPEC §10): the capability's rules and state, one module per job.

`mapping` (model column -> conversion-row key), `schedule` (rate/cron expressions), `ledger` (the
insert-only ledger of sent keys), `report` (a run's report from its parts), `outcomes` (per-row
outcomes in pages), `source` (the exported objects in S3: listing, splitting, streaming lines),
`scheduler` and `executions` (EventBridge Scheduler, Step Functions), `persistence/` (definitions,
runs, ledger: the protocols, DynamoDB, memory). Like the rails, this package imports nothing on
its own: import the module you need.
"""
