"""The inventory of environment ``sandbox``, written by ``sandbox up``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from odoo_dr.app_control import AppOrder, read_order, write_order
from odoo_dr.inventory import (
    ApprovalSettings,
    Approver,
    DrillSettings,
    Environment,
    EscalationStep,
    GateRule,
    Inventory,
    LocalAccess,
    ObjectStore,
    OdooApp,
    OdooDeployment,
    PostgresNode,
    RecoveryTier,
    RedisTarget,
    Region,
    ReplicationSettings,
    SecretRef,
    Traffic,
    dump_inventory,
)
from sandbox.layout import (
    BACKUP_PREFIX,
    BUCKET,
    DATABASE,
    ENVIRONMENT,
    SERVER_NAME,
    SLOT,
    Layout,
    SandboxState,
)
from sandbox.objectstore import endpoint_url
from sandbox.processes import LOOPBACK


def sandbox_environment(
    layout: Layout, state: SandboxState, pg_bindir: Path
) -> Environment:
    """Describe the sandbox's services as an inventory environment."""
    ports = state.ports
    access = LocalAccess(os_user=state.service_user)
    superuser_password = SecretRef(file=layout.secret("postgres-password"))

    def node(
        name: str,
        role: Literal["primary", "standby"],
        port: int,
        data_dir: Path,
        slot: str | None = None,
    ) -> Region:
        return Region(
            postgres=[
                PostgresNode(
                    name=name,
                    role=role,
                    host=LOOPBACK,
                    port=port,
                    data_dir=data_dir,
                    bindir=pg_bindir,
                    access=access,
                    password=superuser_password,
                    replication_slot=slot,
                )
            ]
        )

    return Environment(
        name=ENVIRONMENT,
        description="odoo-dr sandbox on loopback: region A primary, region B standby",
        primary_region="a",
        standby_region="b",
        regions={
            "a": node("pg-a", "primary", ports.pg_primary, layout.primary_data),
            "b": node(
                "pg-b",
                "standby",
                ports.pg_standby,
                layout.standby_data,
                slot=SLOT,
            ),
        },
        replication=ReplicationSettings(
            user="replicator",
            password=SecretRef(file=layout.secret("replication-password")),
        ),
        object_store=ObjectStore(
            endpoint_url=endpoint_url(ports.s3),
            bucket=BUCKET,
            prefix=BACKUP_PREFIX,
            server_name=SERVER_NAME,
            access_key_id=SecretRef(file=layout.secret("s3-access-key-id")),
            secret_access_key=SecretRef(file=layout.secret("s3-secret-access-key")),
            object_lock=True,
        ),
        redis=RedisTarget(
            host=LOOPBACK,
            port=ports.redis,
            password=SecretRef(file=layout.secret("redis-password")),
        ),
        odoo=OdooApp(
            version="17.0",
            database=DATABASE,
            db_user="odoo",
            db_password=SecretRef(file=layout.secret("odoo-password")),
            filestore=layout.filestore,
            # The load generator stands in for Odoo; one per region.
            deployments=[
                OdooDeployment(
                    region=region,
                    kind="process",
                    name=f"odoo-{region}",
                    control_file=layout.app_control(region),
                )
                for region in ("a", "b")
            ],
        ),
        # No Traefik runs in the sandbox: the file is what its file provider
        # would read, and the addresses are where each region's Odoo would be.
        traffic=Traffic(
            kind="traefik-file",
            config_dir=layout.traefik,
            hostname="odoo.sandbox.localhost",
            targets={"a": "http://127.0.0.1:18069", "b": "http://127.0.0.1:28069"},
        ),
        tiers=[
            RecoveryTier(
                name="payroll-payables",
                rto=timedelta(hours=1),
                rpo=timedelta(minutes=5),
                areas=["payroll", "payables", "procurement"],
            ),
            RecoveryTier(
                name="reporting",
                rto=timedelta(hours=24),
                rpo=timedelta(hours=24),
                areas=["project_cost", "attachments"],
            ),
        ],
        drill=DrillSettings(
            work_dir=layout.drills,
            bindir=pg_bindir,
            os_user=state.service_user,
        ),
        approvals=sandbox_approvals(),
    )


def write_app_orders(layout: Layout, state: SandboxState) -> None:
    """First orders of the Odoo stand-ins: region A's serves, B's is paused."""
    for region, paused in (("a", False), ("b", True)):
        control = layout.app_control(region)
        if read_order(control) is None:
            order = AppOrder(paused=paused, host=LOOPBACK, port=state.ports.pg_primary)
            write_order(control, order)


def sandbox_approvals() -> ApprovalSettings:
    """The construction firm's approvers, and a rule for each gate the demo uses.

    Business owners sign off their own area; irreversible steps need two
    approvals from two roles, never from the person who started the run.
    """
    return ApprovalSettings(
        people=[
            Approver(id="maria", name="Maria Keller", roles=["incident_commander"]),
            Approver(id="tom", name="Tom Brandt", roles=["dba"]),
            Approver(id="petra", name="Petra Vogel", roles=["payroll_lead"]),
            Approver(id="jonas", name="Jonas Weber", roles=["payables_lead"]),
            Approver(id="lena", name="Lena Horn", roles=["project_controller"]),
        ],
        default=GateRule(
            roles=["incident_commander", "dba"],
            quorum=2,
            distinct_roles=True,
            timeout=timedelta(hours=1),
            escalation=[
                EscalationStep(after=timedelta(minutes=15), notify=["dba"]),
                EscalationStep(
                    after=timedelta(minutes=45), notify=["incident_commander"]
                ),
            ],
        ),
        gates={
            f"sign_off_{area}": GateRule(
                roles=[role],
                timeout=timedelta(hours=4),
                escalation=[
                    EscalationStep(after=timedelta(hours=1), notify=[role]),
                    EscalationStep(
                        after=timedelta(hours=2), notify=["incident_commander"]
                    ),
                ],
            )
            for area, role in (
                ("payroll", "payroll_lead"),
                ("payables", "payables_lead"),
                ("procurement", "payables_lead"),
                ("project_cost", "project_controller"),
            )
        },
    )


def write_sandbox_inventory(
    layout: Layout, state: SandboxState, pg_bindir: Path
) -> Path:
    """Write ``inventory.yaml`` for environment ``sandbox``; return its path."""
    environment = sandbox_environment(layout, state, pg_bindir)
    inventory = Inventory(environments={ENVIRONMENT: environment})
    layout.inventory.write_text(dump_inventory(inventory), encoding="utf-8")
    return layout.inventory
