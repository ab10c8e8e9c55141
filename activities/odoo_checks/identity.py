"""Identity: is this the firm's database, moved, and does it know where it lives?

A restore or a promoted standby must keep ``database.uuid``: Odoo treats a
changed uuid as a duplicate (new enterprise subscription, other mail routes),
and so would the firm's integrations. ``web.base.url`` decides every link Odoo
mails out; after a regional move it must name the target region's address.
"""

from __future__ import annotations

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import CheckResult

PARAMETER = "SELECT value FROM ir_config_parameter WHERE key = %s"


async def _parameter(ctx: CheckContext, key: str) -> str | None:
    rows = await ctx.rows(PARAMETER, (key,))
    return rows[0][0] if rows else None


@check("identity.database_uuid", "identity")
async def database_uuid(ctx: CheckContext, this: Check) -> CheckResult:
    """database.uuid is the one production had."""
    found = await _parameter(ctx, "database.uuid")
    expected = ctx.expected.database_uuid
    figures = {"database_uuid": found}
    if found is None:
        return this.result(
            "fail",
            "ir_config_parameter has no database.uuid",
            found=figures,
            hint="every Odoo database has one; this copy is incomplete or not Odoo",
        )
    if expected is None:
        return this.result(
            "warn",
            "no expected database.uuid is known, so it was not compared",
            found=figures,
            hint="pin odoo.database_uuid in the inventory, or pass a fingerprint",
        )
    if found != expected:
        return this.result(
            "fail",
            "database.uuid differs from production's: this is a duplicate, "
            "not the moved database",
            found=figures,
            expected={"database_uuid": expected},
            hint="restore from the firm's own backups; never run Odoo's "
            "'duplicate database' on a recovered copy",
        )
    return this.result(
        "pass", "database.uuid is production's", found=figures, expected=figures
    )


@check("identity.base_url", "identity", critical=False)
async def base_url(ctx: CheckContext, this: Check) -> CheckResult:
    """web.base.url names the address users reach the target region at."""
    found = await _parameter(ctx, "web.base.url")
    frozen = await _parameter(ctx, "web.base.url.freeze")
    expected = ctx.expected.base_url
    figures = {"web_base_url": found, "frozen": frozen == "True"}
    if expected is None:
        return this.result(
            "skipped",
            "no expected web.base.url for the target region",
            found=figures,
        )
    if (found or "").rstrip("/") != expected.rstrip("/"):
        return this.result(
            "fail",
            "web.base.url does not name the target region's address",
            found=figures,
            expected={"web_base_url": expected},
            hint="set web.base.url (and web.base.url.freeze) to the region's URL "
            "before users follow links from mails and reports",
        )
    return this.result("pass", "web.base.url is the target region's", found=figures)


CHECKS: tuple[Check, ...] = (database_uuid, base_url)
