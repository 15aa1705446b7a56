"""Warehouse syncs (SPEC §10), in the flow's terms: each operation takes a `Call` (the API ones) or a
task payload of the sync state machine (`contracts.syncs`), returns plain data or raises a domain
exception.

definitions.py (create, list, get, update, delete a sync), runs.py (start a run, list runs, a run's
report and rows), plan.py / child.py / finish.py (the state machine's three tasks), services.py (the
stores and AWS adapters). Import the module you need: this package imports none of them.
"""
