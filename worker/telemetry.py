"""OpenTelemetry tracing of workflows and activities, and odoo-dr's metrics.

No span or metric leaves the process unless an OTLP endpoint is configured
with the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable.
"""

from __future__ import annotations

import functools
import logging
import os

from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor

logger = logging.getLogger(__name__)


def tracer_provider(exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider for odoo-dr.

    Args:
        exporter: where spans go; by default OTLP when
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nowhere.
    """
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "odoo-dr"}))
    if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter()
        logger.info("exporting traces over OTLP")
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracing_interceptor(provider: TracerProvider | None = None) -> TracingInterceptor:
    """Temporal's tracing interceptor on ``provider`` (default: a new one).

    The provider stays ours rather than global, so that tests and embedding
    programs can each build their own.
    """
    provider = provider or tracer_provider()
    return TracingInterceptor(provider.get_tracer("odoo-dr"))


def meter_provider(reader: MetricReader | None = None) -> MeterProvider:
    """A meter provider for odoo-dr's own metrics (readiness, ...).

    Args:
        reader: where metrics go; by default OTLP, every minute, when
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nowhere.
    """
    if reader is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter,
        )

        reader = PeriodicExportingMetricReader(OTLPMetricExporter())
        logger.info("exporting metrics over OTLP")
    return MeterProvider(
        metric_readers=[reader] if reader is not None else [],
        resource=Resource.create({SERVICE_NAME: "odoo-dr"}),
    )


def odoo_dr_meter(provider: MeterProvider | None = None) -> Meter:
    """The meter odoo-dr records with (default: a new provider's)."""
    return (provider or meter_provider()).get_meter("odoo-dr")


@functools.cache
def shared_meter() -> Meter:
    """One meter for the whole worker process (one exporter, not one a build)."""
    return odoo_dr_meter()
