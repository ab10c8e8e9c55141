"""Worker interceptors of odoo-dr."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from odoo_dr.errors import BAD_INPUT, PRECONDITION_FAILED, InventoryError, OdooDrError


class RefuseBadInputInterceptor(Interceptor):
    """Turn odoo-dr's own errors raised in activities into non-retryable ones.

    An unknown environment, an invalid inventory or a secret that does not
    resolve will not mend by retrying the same activity: the run fails at
    once with the message, instead of retrying for minutes.
    """

    def intercept_activity(
        self, next: ActivityInboundInterceptor
    ) -> ActivityInboundInterceptor:
        """Wrap every activity."""
        return _RefuseBadInput(next)


class _RefuseBadInput(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except OdooDrError as exc:
            kind = BAD_INPUT if isinstance(exc, InventoryError) else PRECONDITION_FAILED
            raise ApplicationError(str(exc), type=kind, non_retryable=True) from None
