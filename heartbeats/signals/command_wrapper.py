"""Run a job's command for `beat NAME -- COMMAND`: its output passes through as it comes, and
the tail of it is kept for the finish signal, as runitor and Healthchecks' docs do it."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

# What a shell answers for a command it cannot find or cannot execute.
NOT_FOUND_STATUS = 127
NOT_EXECUTABLE_STATUS = 126
UTF8_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))

Sink = Callable[[bytes], None]


@dataclass(frozen=True)
class CommandRun:
    exit_status: int
    output_tail: str


def run(command: list[str], *, stdout: Sink, stderr: Sink, tail_bytes: int) -> CommandRun:
    """Run `command`, pass its stdout and stderr to the sinks, keep their last `tail_bytes`.

    The exit status is the one a shell would report: 128 + N for a command killed by signal N.
    """
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (FileNotFoundError, PermissionError) as exc:
        not_found = isinstance(exc, FileNotFoundError)
        message = f"{'command not found' if not_found else 'permission denied'}: {command[0]}"
        stderr(f"{message}\n".encode())
        return CommandRun(NOT_FOUND_STATUS if not_found else NOT_EXECUTABLE_STATUS, message)
    tail = bytearray()
    assert process.stdout is not None and process.stderr is not None  # both are pipes
    with process, selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, stdout)
        selector.register(process.stderr, selectors.EVENT_READ, stderr)
        while selector.get_map():
            for key, _ in selector.select():
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data(chunk)
                tail += chunk
                del tail[: max(0, len(tail) - tail_bytes)]
    status = process.returncode
    return CommandRun(128 - status if status < 0 else status, _text(bytes(tail)))


def signal_of(exit_status: int) -> tuple[int, str] | None:
    """The signal (number, name) a shell's 128 + N exit status says killed the run, if any."""
    number = exit_status - 128
    try:
        return (number, signal.Signals(number).name) if number > 0 else None
    except ValueError:
        return None


def describe_exit(exit_status: int) -> str:
    """An exit status as a shell reports it: 128 + N is "killed by signal N (SIGNAME)"."""
    killed = signal_of(exit_status)
    if killed is not None:
        return f"killed by signal {killed[0]} ({killed[1]})"
    return f"exited with status {exit_status}"


def _text(tail: bytes) -> str:
    # The cut may fall inside a character: drop its orphaned bytes rather than add a U+FFFD.
    return tail.lstrip(UTF8_CONTINUATION_BYTES).decode(errors="replace")
