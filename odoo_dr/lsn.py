"""WAL positions (LSNs) as PostgreSQL writes them: ``X/Y``, hex."""


def lsn_to_int(lsn: str) -> int:
    """A WAL position ``X/Y`` as a byte offset.

    Raises:
        ValueError: ``lsn`` is not of that form.
    """
    high, _, low = lsn.partition("/")
    if not low:
        raise ValueError(f"not a WAL position: {lsn!r}")
    return (int(high, 16) << 32) + int(low, 16)
