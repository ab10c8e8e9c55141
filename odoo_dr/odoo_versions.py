"""Where Odoo 16, 17 and 18 differ in the tables odoo-dr reads.

Every such difference lives here, so that validation and neutralization
queries ask this module for a column or a state instead of testing the
version themselves. Read from Odoo's source; payroll is Enterprise (OCA's
community payroll uses the same tables).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

OdooVersion = Literal["16.0", "17.0", "18.0"]


class OdooSchema(BaseModel):
    """Version-dependent names and states of one Odoo major version."""

    model_config = ConfigDict(frozen=True)

    version: OdooVersion
    project_analytic_column: str
    payslip_run_states: tuple[str, ...]
    payslip_run_open_states: tuple[str, ...]
    payslip_run_closed_states: tuple[str, ...]
    payslip_states: tuple[str, ...]
    payment_states: tuple[str, ...]
    purchase_states: tuple[str, ...]
    cron_columns: tuple[str, ...]

    def is_open_payslip_run(self, state: str) -> bool:
        """Whether a payslip run in ``state`` is still being prepared."""
        return state in self.payslip_run_open_states


_PAYMENT_STATES = (
    "not_paid",
    "in_payment",
    "paid",
    "partial",
    "reversed",
    "invoicing_legacy",
)
_PURCHASE_STATES = ("draft", "sent", "to approve", "purchase", "done", "cancel")
_PAYSLIP_STATES = ("draft", "verify", "done", "paid", "cancel")
_CRON_UP_TO_17 = ("active", "nextcall", "lastcall", "numbercall", "doall", "priority")

_ODOO_16 = OdooSchema(
    version="16.0",
    project_analytic_column="analytic_account_id",
    payslip_run_states=("draft", "verify", "close", "paid"),
    payslip_run_open_states=("draft", "verify"),
    payslip_run_closed_states=("close", "paid"),
    payslip_states=_PAYSLIP_STATES,
    payment_states=_PAYMENT_STATES,
    purchase_states=_PURCHASE_STATES,
    cron_columns=_CRON_UP_TO_17,
)

_SCHEMAS: dict[str, OdooSchema] = {
    "16.0": _ODOO_16,
    # 17 reads the same in every table odoo-dr looks at.
    "17.0": _ODOO_16.model_copy(update={"version": "17.0"}),
    # 18 renames the project's analytic column, numbers the payslip run
    # states, adds payment_state 'blocked' and drops numbercall/doall.
    "18.0": OdooSchema(
        version="18.0",
        project_analytic_column="account_id",
        payslip_run_states=("01_ready", "02_close", "03_paid", "04_cancel"),
        payslip_run_open_states=("01_ready",),
        payslip_run_closed_states=("02_close", "03_paid"),
        payslip_states=_PAYSLIP_STATES,
        payment_states=(*_PAYMENT_STATES, "blocked"),
        purchase_states=_PURCHASE_STATES,
        cron_columns=("active", "nextcall", "lastcall", "priority"),
    ),
}


def schema_for(version: str) -> OdooSchema:
    """The differences of Odoo ``version`` ("16.0", "17.0" or "18.0").

    Raises:
        ValueError: a version odoo-dr does not know.
    """
    try:
        return _SCHEMAS[version]
    except KeyError:
        known = ", ".join(sorted(_SCHEMAS))
        raise ValueError(
            f"Odoo {version!r} is not supported (known: {known})"
        ) from None
