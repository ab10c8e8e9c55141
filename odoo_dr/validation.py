"""What business validation takes and returns, shared by workflows and activities.

A validation runs a catalogue of checks against one Odoo database (a new
primary, a restored copy) and answers, per check, a verdict with the figures
found and expected and a hint for the person who must act. A fingerprint is a
set of per-area aggregates taken at a known WAL position and commit time, to
compare a recovered database with. Plain pydantic models: nothing here reads
a clock, does I/O or holds a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

CheckVerdict = Literal["pass", "fail", "warn", "skipped"]
OverallVerdict = Literal["pass", "warn", "fail"]
Figure = int | float | str | bool | None
Direction = Literal["target-newer", "target-older", "same"]

# The business areas of the catalogue, in the order a report lists them.
AREAS: tuple[str, ...] = (
    "connection",
    "identity",
    "accounting",
    "payables",
    "procurement",
    "payroll",
    "project_cost",
    "attachments",
    "jobs",
    "fingerprint",
    "application",
)

# How many offending records a result lists at most; the count is in `found`.
EXAMPLES = 10


class CheckResult(BaseModel):
    """The outcome of one check."""

    name: str
    area: str
    verdict: CheckVerdict
    critical: bool = True
    summary: str
    found: dict[str, Figure] = {}
    expected: dict[str, Figure] = {}
    examples: list[str] = []
    hint: str = ""
    seconds: float = 0.0

    @property
    def blocking(self) -> bool:
        """A failure that must stop the runbook step."""
        return self.verdict == "fail" and self.critical


class ValidationTarget(BaseModel):
    """The database to validate, named so that no secret travels with it.

    ``node`` names a PostgreSQL node of the inventory; ``host`` and ``port``
    (a drill's restored copy, a point-in-time copy) override where to connect,
    with the credentials of the environment's primary node, or, with
    ``drill_id``, those of that drill's isolated copy.
    """

    node: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    drill_id: str | None = None  # a drill's isolated copy: its drill role
    database: str | None = None
    region: str | None = None
    filestore: str | None = None
    label: str = ""


class Expectations(BaseModel):
    """What the target must show, when the runbook knows it."""

    database_uuid: str | None = None
    base_url: str | None = None
    paused_crons: list[str] = []


class AttachmentSample(BaseModel):
    """Which attachments get their file read and hashed."""

    limit: int = Field(default=200, ge=0)
    max_bytes: int = Field(default=5_000_000, ge=0)
    all: bool = False


# How a fingerprint hashes a row: by its columns' own hash functions
# ("record"), or by its text, for tables with a column type that has none
# (and in fingerprints taken before odoo-dr hashed records).
RowHash = Literal["record", "text"]


class TableDigest(BaseModel):
    """Rows of one table, summed per bucket of ids.

    ``buckets`` maps the bucket number (``id // width``) to ``"rows:digest"``,
    where the digest is the sum of a 64-bit hash of each row, made as
    ``row_hash`` says.
    """

    width: int
    rows: int
    buckets: dict[int, str]
    row_hash: RowHash = "text"


class Fingerprint(BaseModel):
    """Per-area aggregates of one database at one WAL position and commit time."""

    schema_version: Literal[1] = 1
    source: str
    wal_lsn: str
    taken_at: datetime
    newest_commit: datetime | None
    database_uuid: str | None
    figures: dict[str, dict[str, Figure]]
    tables: dict[str, TableDigest]


class FingerprintDifference(BaseModel):
    """How one table of the target differs from the fingerprint."""

    table: str
    area: str
    buckets_differing: int
    buckets_explained: int
    unexplained: list[int] = []
    rows_after_point: int = 0


class FingerprintComparison(BaseModel):
    """A fingerprint held against a recovered database."""

    fingerprint_source: str
    fingerprint_commit: datetime | None
    target_commit: datetime | None
    direction: Direction
    transactions_between: int
    rows_between: int
    differences: list[FingerprintDifference] = []
    # Of the transactions between, those committed up to ``cutoff`` (a
    # drill's start: what a restore then would have lost), when one is given.
    cutoff: datetime | None = None
    transactions_to_cutoff: int | None = None

    @property
    def unexplained(self) -> int:
        """Buckets whose difference no later transaction explains."""
        return sum(len(diff.unexplained) for diff in self.differences)


class ValidationInput(BaseModel):
    """Run the catalogue on ``target`` of ``environment``."""

    environment: str = Field(min_length=1)
    target: ValidationTarget = ValidationTarget()
    areas: list[str] = []
    expected: Expectations = Expectations()
    attachments: AttachmentSample = AttachmentSample()
    fingerprint: Fingerprint | None = None
    witness: ValidationTarget | None = None
    recovered_commit: datetime | None = None
    capture_fingerprint: bool = False
    # Whether the fingerprint taken carries readable per-area figures (bills,
    # payslips, costs) beside its digests; the catalogue reports them too.
    fingerprint_figures: bool = True
    probes: bool = True
    canary: bool = False
    requested_by: str = "unknown"
    reason: str = "business validation"


class ValidationReport(BaseModel):
    """Every check's result, the overall verdict and the fingerprint taken."""

    schema_version: Literal[1] = 1
    environment: str
    target: str
    odoo_version: str | None = None
    verdict: OverallVerdict
    started_at: datetime
    finished_at: datetime
    results: list[CheckResult] = []
    fingerprint: Fingerprint | None = None
    comparison: FingerprintComparison | None = None

    @property
    def blocking(self) -> list[CheckResult]:
        """The critical failures."""
        return [result for result in self.results if result.blocking]


def overall_verdict(results: list[CheckResult]) -> OverallVerdict:
    """Fail on a critical failure; warn on a warning or a non-critical failure."""
    if any(result.blocking for result in results):
        return "fail"
    if any(result.verdict in ("fail", "warn") for result in results):
        return "warn"
    return "pass"
