"""Requests generated from the OpenAPI document (schemathesis) for every operation in it, against the
local API on the embedded stack: no 5xx but the documented Meta/gateway refusals, every refusal in
the SPEC error shape, and every answer as documented (status, content type, schema).

Bounded and derandomized for CI: a few dozen examples per operation, the same ones every run. `make
fuzz` runs the same checks for as long as asked.
"""

from __future__ import annotations

import zlib

import schemathesis
from capi_writeback_local.local_api import LocalApi
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.robustness.schema import aim, openapi_document, spec_error_shape

# The fuzzing phase only (the examples phase has no examples to run): the coverage phase's ~500
# deterministic boundary requests take half a minute, so `make fuzz` runs it instead.
SCHEMA = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config.from_dict(
    {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}))
# What the suite asserts: no undocumented 5xx and the SPEC error shape (ours), and that every answer is
# as documented. Not schemathesis' method checks: API Gateway answers a method a resource does not
# have like an unknown route (404 NOT_FOUND, template.yaml), not 405.
CHECKS = [spec_error_shape, status_code_conformance, content_type_conformance, response_schema_conformance]


@SCHEMA.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_generated_requests(api: LocalApi, case: schemathesis.Case) -> None:
    aim(case, api.seed.profile_id, zlib.crc32(repr((case.body, case.query)).encode()))  # stable across runs
    response = case.call(base_url=api.url, headers={"Authorization": f"Bearer {api.seed.api_token}"})
    case.validate_response(response, checks=CHECKS)
