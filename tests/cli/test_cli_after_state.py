"""Issue 11 §6: after a fix the screen shows the rows as the change left them, not the old state;
a progress bar is off the screen while the operator is asked something."""

from __future__ import annotations

import io
import sys

import pytest


def after_section(stdout: str) -> str:
    assert "after the change" in stdout, stdout
    return stdout[stdout.index("after the change") :]


def test_verify_fix_shows_the_row_after_the_change(proaudit) -> None:
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", "--yes")
    assert ran.exit_code == 0, ran.stderr
    row = proaudit("--json", "payments", "show", "PSK-STUCK-0001").json()["data"]["payment"]
    after = after_section(ran.stdout)
    assert "success" in after and row["paid_at"] in after
    assert "pending" not in after
    # the pre-change side-by-side (database: pending, paystack: success) is not shown as the result
    assert "┃ database" not in ran.stdout
    assert "applied: 2 row(s) changed (audit #1)" in ran.stdout  # the payment and its subscription


def test_verify_fix_after_a_prompt_shows_the_row_after_the_change(proaudit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proaudit_ops.cli.mutation.is_interactive", lambda: True)
    ran = proaudit("payments", "verify", "PSK-STUCK-0001", "--fix", input="2\n")  # two rows: type the count
    assert ran.exit_code == 0, ran.stderr
    assert "success" in after_section(ran.stdout)
    assert "┃ database" not in ran.stdout


def test_stuck_fix_lists_what_is_still_pending_and_the_fixed_rows(proaudit) -> None:
    ran = proaudit("payments", "stuck", "--fix", "--yes")
    assert ran.exit_code == 1, ran.stderr  # PSK-GHOST-0001 is left for a human
    after = after_section(ran.stdout)
    for reference in ("PSK-STUCK-0001", "PSK-STUCK-0002", "PSK-STUCK-0003", "PSK-ABANDONED-0001"):
        assert reference in after
    assert "abandoned" in after
    before_after = ran.stdout[: ran.stdout.index("after the change")]
    assert "still pending" in before_after
    listed = before_after[before_after.index("still pending") :]
    assert "PSK-GHOST-0001" in listed and "PSK-STUCK-0001" not in listed.split("plan payments.fix")[0]


class FakeTerminal(io.StringIO):
    """A stderr that claims to be a terminal and notes whether a bar was live at each write."""

    def __init__(self) -> None:
        super().__init__()
        self.live_at_prompt: list[bool] = []

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if "Type 3" in s:
            from proaudit_ops.cli import progress

            self.live_at_prompt.append(progress.any_live())
        return super().write(s)


def test_the_bar_is_cleared_before_a_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    from proaudit_ops.cli import confirm, progress

    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdin", io.StringIO("3\n"))
    with progress.progress_bar("redelivering") as update:
        assert update is not None
        update(1, 3)
        assert progress.any_live()
        assert confirm.ask("This sends 3 items. Type 3 to apply: ") == "3"
        assert terminal.live_at_prompt == [False]  # the prompt reached the terminal, with no bar on it
        update(2, 3)  # the bar comes back for the work after the prompt
        assert progress.any_live()
    assert not progress.any_live()


def test_no_bar_before_the_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from proaudit_ops.cli import progress

    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    with progress.progress_bar("redelivering") as update:
        assert update is not None
        assert not progress.any_live()  # nothing to show yet: a prompt may come first
