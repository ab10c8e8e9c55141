"""The data converter: pydantic models in and out, and clear refusals.

Inputs typed in the Temporal UI's "Start Workflow" form are JSON a person
wrote. When one does not fit the runbook's input model, pydantic's error
would fail the first workflow task, which Temporal retries for ever: the run
would hang in Running. Instead, the run fails at once with a non-retryable
``BadInput`` that names each wrong field, says what is allowed, and lists
the fields the input takes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
)
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from odoo_dr.errors import BAD_INPUT


def explain(exc: ValidationError, model: Any) -> str:
    """One sentence per wrong field, and the fields ``model`` takes."""
    problems = [
        f"{'.'.join(str(p) for p in error['loc']) or 'the input'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    text = f"input for {exc.title} is not valid: " + "; ".join(problems)
    if isinstance(model, type) and issubclass(model, BaseModel):
        fields = ", ".join(
            f"{name}{'' if field.is_required() else '?'}"
            for name, field in model.model_fields.items()
        )
        text += f". It takes: {fields} (? = optional)"
    return text


class _ClearJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as exc:
            raise ApplicationError(
                explain(exc, type_hint), type=BAD_INPUT, non_retryable=True
            ) from None


class OdooDrPayloadConverter(PydanticPayloadConverter):
    """Pydantic's payload converter, refusing bad JSON with a clear error."""

    def __init__(self) -> None:
        """Swap the JSON converter of pydantic's composite for ours."""
        super().__init__()
        clear = _ClearJSONConverter()
        self.converters = {
            encoding: clear if encoding == clear.encoding.encode() else c
            for encoding, c in self.converters.items()
        }


data_converter = DataConverter(payload_converter_class=OdooDrPayloadConverter)
