"""export (issue 24): --ids names the opportunities it could not find and exits 1; while the
read quota is spent it says that it waits and until when, and --quota-wait bounds the wait."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

from bulk_assign import cli
from bulk_assign.commands.export import ExportSettings, export_command, filters_from
from bulk_assign.emulator import Emulator
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv


def test_export_ids_names_the_missing_ones_and_exits_1(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(5), **fast())
    ids = tmp_path / "ids.csv"
    ids.write_text("Identifier\nO1000001\nO9999991\nO1000003\nO9999992\n", encoding="utf-8")
    out = io.StringIO()
    code = export_command(ExportSettings(catalog="Sandbox", endpoint_url=emu.url,
                                         filters=filters_from(owners=[], stages=[],
                                                              customers=[],
                                                              modified_since=None, ids=ids)),
                          out=tmp_path / "owners.csv", quiet=True, stdout=out)
    assert code == 1, out.getvalue()
    assert "Not found: 2 of the --ids opportunities do not exist in catalog Sandbox: " \
           "O9999991, O9999992" in out.getvalue()
    assert {r["Identifier"] for r in read_csv(tmp_path / "owners.csv")} == \
        {"O1000001", "O1000003"}


def test_export_says_it_waits_for_the_read_quota_and_stops_after_quota_wait(
    emulator: Callable[..., Emulator], tmp_path: Path, capsys: object
) -> None:
    emu = emulator(generated(5), **fast(read_daily_cap=2))
    started = time.monotonic()
    code = cli.main(["export", "--catalog", "Sandbox", "--out", str(tmp_path / "o.csv"),
                     "--endpoint-url", emu.url, "--quota-wait", "0.05", "--quiet"])
    text = capsys.readouterr().out  # type: ignore[attr-defined]
    assert code == 3, text
    assert time.monotonic() - started < 20
    assert "reads throttled: waiting for the read quota, at most until " in text
    assert "Export stopped (QuotaExhausted)" in text
