"""The one small error hierarchy of odoo-dr.

Operator-facing commands catch :class:`OdooDrError` and print its message; a
Temporal activity turns refused preconditions into non-retryable
``ApplicationError`` with :data:`NON_RETRYABLE` types.
"""


class OdooDrError(Exception):
    """Base of every error odoo-dr raises on purpose."""


class InventoryError(OdooDrError):
    """The inventory file is missing, unreadable or invalid."""


class UnknownEnvironmentError(InventoryError):
    """A command or workflow named an environment the inventory lacks."""


class SecretError(OdooDrError):
    """A secret reference does not resolve to a value."""


class SandboxError(OdooDrError):
    """The local sandbox cannot be brought up, inspected or stopped."""


class PortInUseError(SandboxError):
    """A port the sandbox needs is taken by another process."""


class MissingBinaryError(SandboxError):
    """A server binary the sandbox needs is not installed."""


# ApplicationError types that Temporal must not retry.
BAD_INPUT = "BadInput"
PRECONDITION_FAILED = "PreconditionFailed"
BACKUP_NOT_FOUND = "BackupNotFound"
VALIDATION_FAILED = "ValidationFailed"
NON_RETRYABLE = (BAD_INPUT, PRECONDITION_FAILED, BACKUP_NOT_FOUND, VALIDATION_FAILED)
