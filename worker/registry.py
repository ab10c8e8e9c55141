"""Every workflow and activity of odoo-dr, registered in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.app_tier import AppTierActivities
from activities.backups import BackupActivities
from activities.chat import ChatActivities
from activities.evidence import EvidenceActivities
from activities.integrations import IntegrationActivities
from activities.odoo import OdooActivities
from activities.postgres import PostgresActivities
from activities.postgres_pair import PairActivities
from activities.preflight import PreflightActivities
from activities.readiness import ReadinessActivities
from activities.redis import RedisActivities
from activities.traffic import TrafficActivities
from odoo_dr.inventory import Inventory
from worker.telemetry import shared_meter
from workflows.drill import RestoreDrillWorkflow
from workflows.readiness import ReadinessWorkflow
from workflows.region_move import FailbackWorkflow, FailoverWorkflow, SwitchoverWorkflow
from workflows.validation import ValidateOdooWorkflow

WORKFLOWS: list[type] = [
    RestoreDrillWorkflow,
    ValidateOdooWorkflow,
    SwitchoverWorkflow,
    FailoverWorkflow,
    FailbackWorkflow,
    ReadinessWorkflow,
]


def activities_for(inventory: Inventory) -> list[Callable[..., Any]]:
    """The activity callables, bound to the worker's inventory."""
    backups = BackupActivities(inventory)
    postgres = PostgresActivities(inventory)
    odoo = OdooActivities(inventory)
    chat = ChatActivities(inventory)
    pair = PairActivities(inventory)
    preflight = PreflightActivities(inventory)
    readiness = ReadinessActivities(inventory, meter=shared_meter())
    app_tier = AppTierActivities(inventory)
    integrations = IntegrationActivities(inventory)
    redis = RedisActivities(inventory)
    traffic = TrafficActivities(inventory)
    evidence = EvidenceActivities(inventory)
    return [
        backups.select_backup,
        backups.restore_backup,
        backups.recovery_tiers,
        postgres.capture_primary_position,
        postgres.start_restored_copy,
        postgres.isolate_copy,
        postgres.count_tables,
        postgres.teardown_copy,
        odoo.run_validation_checks,
        odoo.capture_fingerprint,
        odoo.compare_fingerprint,
        odoo.probe_odoo,
        chat.approval_plan,
        chat.notify_gate,
        chat.notify_run,
        preflight.preflight,
        readiness.check_readiness,
        pair.inspect_pair,
        pair.fence_primary,
        pair.unfence_primary,
        pair.wait_replayed,
        pair.promote_standby,
        pair.measure_loss,
        pair.reprotect_node,
        app_tier.quiesce_app_tier,
        app_tier.point_app_tier,
        app_tier.serve_app_tier,
        app_tier.resume_app_tier,
        integrations.probe_integrations,
        redis.move_redis,
        traffic.route_traffic,
        evidence.store_evidence,
        evidence.drill_trend,
    ]
