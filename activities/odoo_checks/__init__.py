"""The validation catalogue: one module of checks per business area."""
