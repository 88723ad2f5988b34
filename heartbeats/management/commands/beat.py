"""`manage.py beat NAME`: record a heartbeat, or another signal, from a host that has the app
(runbook's update_job_heartbeat); `beat NAME -- COMMAND` runs a job and reports its run. Runs
inside every cron job, so it imports only what it needs."""

from __future__ import annotations

import argparse
import codecs
import functools
import socket
import sys
import uuid
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from heartbeats.domain import policy
from heartbeats.models import EventKind
from heartbeats.redaction import first_line
from heartbeats.signals import command_wrapper, recording, signal_input


class Command(BaseCommand):
    help = (
        "Record a heartbeat for a job, creating the job on its first beat; or, after --, run "
        "a command and report its start, outcome and output, exiting with its status."
    )
    requires_system_checks: list = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Per instance: create_parser takes no parser class, and both run_from_argv and
        # call_command parse through this parser.
        parser.parse_args = functools.partial(  # type: ignore[method-assign,assignment]
            _parse_with_command, parser, parser.parse_args
        )
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="job name: 1-128 of letters, digits, . _ - :")
        parser.add_argument(
            "command", nargs="*", default=[], help="after --: the command to run and report"
        )
        signal = parser.add_mutually_exclusive_group()
        signal.add_argument(
            "--start", dest="kind", action="store_const", const=EventKind.START, help="run began"
        )
        signal.add_argument(
            "--fail", dest="kind", action="store_const", const=EventKind.FAIL, help="run failed"
        )
        signal.add_argument("--exit-status", type=int, help="0 is success, 1 to 255 failure")
        signal.add_argument("--log", nargs="?", const="", metavar="MESSAGE", help="a message only")
        parser.add_argument("--rid", help="run id (a UUID) pairing a start with its finish")
        parser.add_argument("--status", default=None, help="one word, default 'healthy'")
        parser.add_argument("--metadata", default=None, help='a JSON object, e.g. {"rows": 42}')
        parser.add_argument("--tags", default="", help='tags for a job this creates: "db nightly"')

    def handle(self, *args, name: str, command: list[str], **options) -> None:
        try:
            signal = _signal(options)
            if command:
                self._wrap(name, command, signal, options)
            else:
                recording.record_signal(job_name=name, now=timezone.now(), host=_host(), **signal)
        except signal_input.InvalidSignal as exc:
            raise CommandError(str(exc), returncode=2) from None
        except DatabaseError as exc:
            raise CommandError(_database_problem(exc), returncode=3) from None
        if options["verbosity"] > 1 and not command:
            self.stdout.write(f"Recorded {signal['kind'].label.lower()} for {name}")

    def _wrap(self, name: str, command: list[str], signal: dict, options: dict) -> None:
        """Start, run, finish: the job runs even when the database is down, and its exit
        status stays the one cron sees."""
        chosen = (options["kind"], options["exit_status"], options["log"], options["rid"])
        if any(option is not None for option in chosen):
            raise signal_input.InvalidSignal(
                "a wrapped command reports its own start and outcome: drop --start, --fail, "
                "--exit-status, --log and --rid"
            )
        rid = uuid.uuid4()
        self._report(job_name=name, kind=EventKind.START, rid=rid, tags=signal["tags"])
        run = command_wrapper.run(
            command,
            stdout=_passthrough(self.stdout),
            stderr=_passthrough(self.stderr),
            tail_bytes=policy.ping_body_limit(),
        )
        self._report(
            job_name=name,
            rid=rid,
            kind=signal_input.exit_status_kind(run.exit_status),
            exit_status=run.exit_status,
            body=run.output_tail,
            status=signal["status"],
            metadata=signal["metadata"],
            tags=signal["tags"],
        )
        if run.exit_status:
            raise CommandError(
                f"{command[0]} {command_wrapper.describe_exit(run.exit_status)}",
                returncode=run.exit_status,
            )

    def _report(self, **signal) -> None:
        try:
            recording.record_signal(now=timezone.now(), host=_host(), **signal)
        except DatabaseError as exc:
            self.stderr.write(f"{signal['kind']} not recorded, {_database_problem(exc)}")


def _host() -> str:
    """This machine's name, so the job page and alerts say where a run happened."""
    return socket.gethostname()


def _parse_with_command(
    parser: CommandParser, parse_args: Callable, args: list[str] | None = None, namespace=None
) -> argparse.Namespace:
    """Everything after the first `--` is the command, verbatim: argparse alone would drop a
    later `--` from it, and would take options given after NAME for part of it."""
    args = list(sys.argv[2:] if args is None else args)
    split = args.index("--") if "--" in args else len(args)
    parsed = parse_args(args[:split], namespace)
    if parsed.command:
        parser.error(f"put -- before the command to run: -- {' '.join(parsed.command)}")
    parsed.command = args[split + 1 :]
    return parsed


def _signal(options: dict) -> dict:
    """The keyword arguments of `record_signal` that the options ask for; refuses, before
    anything is written, a status or metadata on a signal that does not finish a run."""
    kind, exit_status, body = options["kind"] or EventKind.SUCCESS, options["exit_status"], ""
    if exit_status is not None:
        kind = signal_input.exit_status_kind(exit_status)
    if options["log"] is not None:
        kind, body = EventKind.LOG, options["log"]
    finishing = kind in recording.FINISHING_KINDS
    if not finishing and (options["status"] or options["metadata"]):
        raise signal_input.InvalidSignal("--status and --metadata go only with a finished run")
    metadata = options["metadata"]
    return {
        "kind": kind,
        "exit_status": exit_status,
        "body": body,
        "rid": signal_input.parse_rid(options["rid"]) if options["rid"] is not None else None,
        "status": options["status"],
        # The runbook replaces metadata on every beat, with {} when none is given.
        "metadata": signal_input.parse_metadata(metadata) if metadata is not None else {},
        "tags": signal_input.parse_tags(options["tags"]),
    }


def _passthrough(stream: OutputWrapper) -> command_wrapper.Sink:
    """The wrapped command's output byte for byte (`beat NAME -- pg_dump > file` must not
    alter the dump); decoded only for a stream without bytes, such as call_command's StringIO."""
    binary = getattr(stream, "buffer", None)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(chunk: bytes) -> None:
        if binary is None:
            stream.write(decoder.decode(chunk), style_func=str, ending="")
        else:
            stream.flush()
            binary.write(chunk)
            binary.flush()

    return write


def _database_problem(exc: DatabaseError) -> str:
    """An unreachable database (retry later) told apart from one that refused the write."""
    unreachable = isinstance(exc, OperationalError | InterfaceError)
    return f"database {'unavailable' if unreachable else 'error'}: {first_line(exc)}"
