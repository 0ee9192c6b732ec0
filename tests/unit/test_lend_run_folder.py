"""`lend_run_folder`: a command that holds a run folder (transfer) lets the one command it
names (run) take it, in its own thread only; everyone else is still refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bulk_assign.errors import UsageError
from bulk_assign.store.runlock import hold_run_folder, lend_run_folder, lock_holder


def _refused_in_another_thread(folder: Path) -> bool:
    refused: list[bool] = []

    def other() -> None:
        try:
            with hold_run_folder(folder, command="run"):
                refused.append(False)
        except UsageError:
            refused.append(True)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=10)
    return refused == [True]


def test_the_lent_folder_goes_to_the_named_command_only(tmp_path: Path) -> None:
    with hold_run_folder(tmp_path, command="transfer") as held, \
            lend_run_folder(held, to="run"):
        with hold_run_folder(tmp_path, command="run", new_run=True) as inner:
            assert inner is held
            assert lock_holder(tmp_path) is not None  # still held: the inner exit kept it
        assert lock_holder(tmp_path) is not None
        with pytest.raises(UsageError, match="in use"), \
                hold_run_folder(tmp_path, command="transfer"):
            pytest.fail("a second transfer got in")
        assert _refused_in_another_thread(tmp_path)
        other = tmp_path / "other"
        other.mkdir()
        with hold_run_folder(other, command="run") as elsewhere:
            assert elsewhere is not held  # another folder is locked on its own
    assert lock_holder(tmp_path) is None
    with (pytest.raises(UsageError), hold_run_folder(tmp_path, command="transfer"),
          hold_run_folder(tmp_path, command="run")):  # not lent: refused
        pytest.fail("the folder was taken twice")


def test_a_lent_folder_that_holds_a_run_is_no_new_run(tmp_path: Path) -> None:
    with hold_run_folder(tmp_path, command="transfer") as held, \
            lend_run_folder(held, to="run"):
        (tmp_path / "run.json").write_text("{}")
        (tmp_path / "journal.jsonl").write_text("")
        with pytest.raises(UsageError, match="already holds a run"), \
                hold_run_folder(tmp_path, command="run", new_run=True):
            pytest.fail("a second run started in the folder")
