"""The per-profile circuit breaker of confirm (see `circuit`)."""

from capi_writeback.rails.breaker.circuit import CircuitBreaker

__all__ = ["CircuitBreaker"]
