"""Names shared by the worker, the starters and the workflows."""

TASK_QUEUE = "odoo-dr"

# Search attributes the Temporal namespace must have; keys and their types as
# `temporal operator search-attribute create` names them.
SA_ENVIRONMENT = "OdooDrEnvironment"
SA_RUNBOOK = "OdooDrRunbook"
SA_PHASE = "OdooDrPhase"
SA_INCIDENT = "OdooDrIncident"
SA_VERDICT = "OdooDrVerdict"
SEARCH_ATTRIBUTES: dict[str, str] = {
    SA_ENVIRONMENT: "Keyword",
    SA_RUNBOOK: "Keyword",
    SA_PHASE: "Keyword",
    SA_INCIDENT: "Keyword",
    SA_VERDICT: "Keyword",
}
