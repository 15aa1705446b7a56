"""Logger and Metrics shared by every handler, set up in one place.

Handlers set the API Gateway request id as the correlation id, so every log line of a request can be
found by the `request_id` a caller sees in a response or an error body. Nothing here logs request
bodies: callers log counts, ids and hashes only (no raw PII, no token).
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "capi-writeback")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "CapiWriteback")

logger = Logger(service=SERVICE)

# Libraries that print whole requests or responses at DEBUG (Powertools logs route arguments, i.e.
# request bodies with raw PII; botocore logs response bodies, i.e. secret values; urllib3 logs URLs)
# stay at INFO whatever the root level, so turning on DEBUG can never leak PII or a token.
QUIET_LIBRARIES = ("aws_lambda_powertools", "botocore", "boto3", "urllib3", "s3transfer")
for _name in QUIET_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.INFO)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# The metric names the dashboards and alarms rely on (one place).
EVENTS_SENT = "EventsSent"
CONFIRMS_FAILED = "ConfirmsFailed"
BREAKER_OPENED = "BreakerOpened"
REPLAYS = "Replays"
SYNC_RUNS_FAILED = "SyncRunsFailed"  # emitted by warehouse syncs (SPEC §10); alarmed in template.yaml


def count(name: str, value: int = 1) -> None:
    """Add `value` to a Count metric; flushed once per invocation by the handler."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def flush() -> None:
    """Emit the invocation's metrics (EMF on stdout); never lets a metrics problem fail a request."""
    if not metrics.metric_set:
        return  # nothing recorded: skip Powertools' "no metrics" warning
    try:
        metrics.flush_metrics()
    except Exception:  # pragma: no cover - metrics must never break the API
        logger.warning("metrics flush failed", exc_info=True)
