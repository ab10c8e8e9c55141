from activities.preflight import _lag_check
from odoo_dr.cutover import PairState


def _pair(lag_bytes: int | None, lag_seconds: float | None) -> PairState:
    return PairState(
        environment="prod", nodes=[], lag_bytes=lag_bytes, lag_seconds=lag_seconds
    )


def test_lag_within_the_budget_passes():
    check = _lag_check(_pair(4096, 0.4), budget=300)
    assert check.ok and "4096 bytes, 0.4 s of commits behind" in check.detail


def test_lag_over_the_budget_needs_an_override():
    check = _lag_check(_pair(4096, 301.0), budget=300)
    assert not check.ok and check.blocks == ["failover"]


def test_bytes_behind_with_no_replayed_commit_time_cannot_pass_a_budget():
    # A standby restarted and paused replays nothing: bytes behind, span unknown.
    check = _lag_check(_pair(371280, None), budget=1)
    assert not check.ok and check.blocks == ["failover"]
    assert "span of commits behind is unknown" in check.detail
    assert "cannot be shown to hold" in check.detail


def test_unknown_span_without_a_budget_is_only_reported():
    check = _lag_check(_pair(371280, None), budget=None)
    assert check.ok and "371280 bytes behind" in check.detail


def test_primary_that_does_not_answer_leaves_the_loss_to_be_measured():
    check = _lag_check(_pair(None, None), budget=1)
    assert check.ok and "the primary does not answer" in check.detail
