"""journal.jsonl: what resume reads after a crash, a kill -9 or many threads at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bulk_assign.results import Contact, RowOutcome, Status
from bulk_assign.store.journal import Journal, JournalDamaged, load

OWNER_A = Contact(email="old@example.com", first_name="Old", last_name="Owner",
                  business_title="PartnerAccountManager", phone="+15550100100")
OWNER_B = Contact(email="ours@example.com", first_name="Ours", last_name="Write",
                  business_title="PartnerAccountManager")


def _outcome(row: int, status: Status, **kw: object) -> RowOutcome:
    return RowOutcome(row=row, status=status, finished_at="2026-01-01T00:00:00Z", **kw)  # type: ignore[arg-type]


def _lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_last_outcome_wins_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.sending(2, OWNER_A, "t1")
    j.finished(_outcome(2, Status.FAILED, error_class="ThrottlingException", attempts=8))
    j.sending(2, OWNER_B, "t2")
    won = _outcome(2, Status.SUCCEEDED, attempts=1, request_id="req-1", previous_owner=OWNER_A)
    j.finished(won)
    j.finished(_outcome(3, Status.UNCHANGED))
    j.close()
    state = load(path)
    assert state.outcomes[2] == won
    assert state.outcomes[3].status is Status.UNCHANGED
    assert state.in_flight == set()
    # The owner from before our FIRST write: a later pre-read may see our own write.
    assert state.sent == {2: OWNER_A}


def test_rows_whose_last_record_is_sending_are_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.sending(2, None, "t")  # killed mid-call
    j.sending(3, OWNER_A, "t")
    j.finished(_outcome(3, Status.SUCCEEDED, previous_owner=OWNER_A))
    j.finished(_outcome(4, Status.FAILED, error_class="ReadTimeoutError"))
    j.sending(4, OWNER_B, "t")  # resumed, killed again mid-call
    j.close()
    state = load(path)
    assert state.in_flight == {2, 4}
    assert state.sent == {2: None, 3: OWNER_A, 4: OWNER_B}
    assert 2 not in state.outcomes
    assert state.outcomes[4].status is Status.FAILED


def test_finished_many_writes_every_outcome(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    skipped = [_outcome(r, Status.SKIPPED, error_class="Interrupted") for r in range(2, 502)]
    j.finished_many(skipped)
    j.finished_many([])
    j.close()
    assert len(_lines(path)) == 500
    state = load(path)
    assert sorted(state.outcomes) == list(range(2, 502))
    assert all(o.error_class == "Interrupted" for o in state.outcomes.values())


def test_every_line_is_one_json_record_even_for_awkward_messages(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    nasty = 'line1\nline2\r"quoted",\u2028sep\u0085nel\ttab \u00e9\U0001f600 \\ {"x": 1}'
    j.finished(_outcome(2, Status.FAILED, error_class="ValidationException",
                        error_message=nasty))
    j.sending(3, Contact(email="a@b.co", first_name="Zoë\n", last_name="O'Brien",
                         business_title="PAM"), "t")
    j.close()
    lines = _lines(path)
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["event"] == "outcome" and records[1]["event"] == "sending"
    state = load(path)
    assert state.outcomes[2].error_message == nasty
    assert state.sent[3] is not None and state.sent[3].first_name == "Zoë\n"


def test_a_line_cut_short_by_kill_9_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.finished(_outcome(2, Status.SUCCEEDED))
    j.finished(_outcome(3, Status.SUCCEEDED))
    j.close()
    whole = path.read_bytes()
    record = json.dumps({"event": "outcome", **_outcome(4, Status.FAILED).to_json()})
    for cut in (1, len(record) // 2, len(record) - 1):
        path.write_bytes(whole + record[:cut].encode())
        state = load(path)
        assert sorted(state.outcomes) == [2, 3], cut
    # Cut in the middle of a multi-byte character.
    path.write_bytes(whole + '{"event": "outcome", "row": 4, "error_message": "é'.encode()[:-1])
    assert sorted(load(path).outcomes) == [2, 3]


def test_a_tail_of_nul_bytes_is_damage_not_a_cut_line(tmp_path: Path) -> None:
    """A crash on some filesystems leaves the file's end zeroed, newlines too: those lines held
    records, so they are reported, never dropped as a line a kill -9 cut short."""
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.finished(_outcome(2, Status.SUCCEEDED, previous_owner=OWNER_A))
    j.finished(_outcome(3, Status.SUCCEEDED, previous_owner=OWNER_A))
    j.close()
    first = path.read_bytes().split(b"\n")[0] + b"\n"
    path.write_bytes(first + b"\0" * (len(path.read_bytes()) - len(first)))
    with pytest.raises(JournalDamaged) as damaged:
        load(path)
    assert damaged.value.line == 2
    path.write_bytes(first + b"\x01garbage")  # not the start of a record either
    with pytest.raises(JournalDamaged):
        load(path)


def test_a_resumed_run_appending_after_a_cut_line_loses_nothing(tmp_path: Path) -> None:
    """kill -9 mid-write, then resume appends: its first record must not be glued to the
    partial line (and lost with it)."""
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.finished(_outcome(2, Status.SUCCEEDED))
    j.close()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"event": "outcome", "row": 3, "sta')  # the killed run's last write
    resumed = Journal(path)
    resumed.finished(_outcome(3, Status.SUCCEEDED, request_id="req-3"))
    resumed.sending(4, OWNER_A, "t")
    resumed.close()
    state = load(path)
    assert state.outcomes[3].status is Status.SUCCEEDED
    assert state.in_flight == {4}


def test_a_missing_journal_is_an_empty_state(tmp_path: Path) -> None:
    state = load(tmp_path / "nope.jsonl")
    assert state.outcomes == {} and state.sent == {} and state.in_flight == set()


def test_many_threads_appending_lose_no_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    threads_n, per_thread = 8, 25
    barrier = threading.Barrier(threads_n)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            row = 2 + t * per_thread + i
            j.sending(row, OWNER_A, "t")
            j.finished(_outcome(row, Status.SUCCEEDED, error_message="x" * (i * 37)))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    lines = _lines(path)
    assert len(lines) == 2 * threads_n * per_thread
    for line in lines:
        json.loads(line)  # no interleaved writes
    state = load(path)
    assert sorted(state.outcomes) == list(range(2, 2 + threads_n * per_thread))
    assert state.in_flight == set()
