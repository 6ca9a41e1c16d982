"""`reconcile` on the sandbox: each seeded inconsistency in its category, the fix, the second run."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from reconcile_helpers import Invoke

from proaudit_ops.core.reconcile.compare import CATEGORIES, FIXABLE
from proaudit_ops.sandbox.dataset import RECONCILE_CASES


def _found(ran: object) -> dict[str, tuple[str, ...]]:
    cats = ran.categories()  # type: ignore[attr-defined]
    return {name: tuple(sorted(c["references"])) for name, c in cats.items()}


def test_each_seeded_inconsistency_lands_in_its_category(proaudit: Invoke) -> None:
    ran = proaudit("--json", "reconcile", "--since", "30d")
    assert ran.exit_code == 1, ran.stderr
    assert set(RECONCILE_CASES) == set(CATEGORIES)
    assert _found(ran) == {name: tuple(sorted(refs)) for name, refs in RECONCILE_CASES.items()}
    cats = ran.categories()
    assert cats["amount_or_currency_mismatch"]["amounts"] == {"NGN": 405_000_000, "USD": 10_000}
    assert cats["refund_amount_mismatch"]["amounts"] == {"NGN": 5_000_000}
    # cron: the envelope on stdout, one summary line on stderr (after the sandbox banner), no progress bar
    lines = [line for line in ran.stderr.splitlines() if not line.startswith("proaudit: sandbox mode")]
    assert len(lines) == 1 and lines[0].startswith("reconcile ") and "stuck 4" in lines[0], ran.stderr


def test_fix_yes_then_a_second_run_finds_only_the_unfixable(proaudit: Invoke) -> None:
    fixed = proaudit("--json", "reconcile", "--since", "30d", "--fix", "--yes")
    assert fixed.exit_code == 1, fixed.stderr  # unfixable drift remains
    data = fixed.json()["data"]
    assert data["fix_outcome"] == "applied"
    fixable_refs = {r for name in FIXABLE for r in RECONCILE_CASES[name]}
    assert set(data["fixed"]) == fixable_refs
    again = proaudit("--json", "reconcile", "--since", "30d")
    assert again.exit_code == 1
    expected = {name: () if name in FIXABLE else tuple(sorted(refs)) for name, refs in RECONCILE_CASES.items()}
    assert _found(again) == expected
    shown = proaudit("--json", "payments", "show", "PSK-NOTENT-0001").json()["data"]
    assert shown["subscription"]["trial_ends_at"] is None  # entitled by the fix


def test_fix_without_yes_and_no_tty_is_refused_and_changes_nothing(proaudit: Invoke) -> None:
    refused = proaudit("reconcile", "--since", "30d", "--fix")
    assert refused.exit_code == 4, refused.stdout + refused.stderr
    assert proaudit("--json", "reconcile", "--since", "30d").categories()["stuck"]["count"] == 4


def test_the_export_source_finds_the_same_and_says_why(proaudit: Invoke) -> None:
    by_export = proaudit("--json", "reconcile", "--since", "30d", "--source", "export")
    assert by_export.exit_code == 1, by_export.stderr
    assert by_export.json()["data"]["source"] == "export"
    assert _found(by_export) == {name: tuple(sorted(refs)) for name, refs in RECONCILE_CASES.items()}
    human = proaudit("reconcile", "--since", "30d")
    assert "source: api (1 page(s) is within proaudit_reconcile_max_pages" in human.stdout


def test_auto_takes_the_export_above_the_page_budget(proaudit: Invoke, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("PROAUDIT_RECONCILE_MAX_PAGES", "1")
    monkeypatch.setattr("proaudit_ops.core.reconcile.source.PER_PAGE", 10)
    ran = proaudit("--json", "reconcile", "--since", "30d")
    data = ran.json()["data"]
    assert data["source"] == "export"
    assert "3 page(s)" in data["source_reason"] and "proaudit_reconcile_max_pages = 1" in data["source_reason"]


def test_metrics_file_is_prometheus_text_with_every_category(proaudit: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "reconcile.prom"
    ran = proaudit("--json", "reconcile", "--since", "30d", "--metrics", str(target))
    assert ran.exit_code == 1
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    counts = {s.labels["category"]: s.value for s in families["proaudit_reconcile_drift_count"].samples}
    assert counts == {name: float(len(refs)) for name, refs in RECONCILE_CASES.items()}
    assert families["proaudit_reconcile_last_success_timestamp_seconds"].samples[0].value > 1.7e9
    assert "proaudit_reconcile_duration_seconds" in families
    assert [p.name for p in tmp_path.iterdir()] == ["reconcile.prom"]  # the temp file was renamed, none left


def test_bad_window_and_idle_flags_are_usage_errors(proaudit: Invoke) -> None:
    assert proaudit("reconcile", "--date", "2026-13-01").exit_code == 2
    assert proaudit("reconcile", "--date", "2026-11-01", "--since", "24h").exit_code == 2
    assert proaudit("reconcile", "--since", "30d", "--yes").exit_code == 2  # --yes without --fix
    assert proaudit("reconcile", "--source", "ftp").exit_code == 2


def test_a_clean_window_exits_zero(proaudit: Invoke) -> None:
    ran = proaudit("--json", "reconcile", "--date", "2001-01-01")
    assert ran.exit_code == 0, ran.stderr
    assert all(c["count"] == 0 for c in ran.json()["data"]["categories"])
