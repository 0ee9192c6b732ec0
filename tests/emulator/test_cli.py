"""`python -m bulk_assign.emulator`: first line, options, clean stop on SIGTERM."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import pytest

from bulk_assign.emulator import cli
from tests.support.emulators import make_client

PREFIX = "Partner Central emulator listening on http://127.0.0.1:"


def test_every_option_has_help() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, action.option_strings
    text = parser.format_help()
    for option in ("--port", "--seed", "--generate", "--no-quotas", "--reset-rate", "--quiet"):
        assert option in text


def test_config_from_defaults_matches_documented_quotas() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    config = cli.config_from_args(parser.parse_args([]))
    assert (config.port, config.write_rate, config.write_burst, config.read_rate) == (
        8765,
        1.0,
        1,
        10.0,
    )
    assert dict(config.credentials) == {"test": "test"}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_runs_in_foreground_and_stops_on_signal(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bulk_assign.emulator", "--port", "0", "--generate", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().rstrip("\n")
        assert first.startswith(PREFIX)
        port = int(first[len(PREFIX) :])
        assert port > 0
        assert "quotas write 1.0/s" in process.stdout.readline()
        client = make_client(f"http://127.0.0.1:{port}")
        assert client.get_opportunity(Catalog="Sandbox", Identifier="O1000004")["Id"] == "O1000004"
        process.send_signal(stop)
        # A generous bound: on a loaded machine the interpreter's exit alone can take seconds.
        _, errors = process.communicate(timeout=30)
        assert process.returncode == 0, errors
        assert "Traceback" not in errors
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_bad_options_exit_2_with_a_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bulk_assign.emulator", "--port", "0", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "error_rate must be a fraction" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "bulk_assign.emulator", "--seed", "/nonexistent.json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "cannot read seed file" in done.stderr
