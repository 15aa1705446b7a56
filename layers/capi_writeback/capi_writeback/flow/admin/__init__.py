"""Administration (SPEC §11.1): workspace settings and members, API tokens, profiles and their Meta
connection, and match quality after the send (§11.3).

Each operation takes a `Call` and a validated request (`capi_writeback.contracts.admin`) and returns
plain data or raises a domain exception, like the write-back steps. Every change is audited with its
actor (`flow.trail.audited`): profile-level changes in the profile's trail, workspace-level ones
(settings, members, tokens, new profiles) in the workspace's trail, the audit partition
`workspace#<workspace_id>` read by GET /v1/workspace/audit. Refusals are audited too.

Import the module you need (`flow.admin.members`, ...): this package imports nothing.
"""
