"""django-crontab's `crontab` command, safe across schedule changes.

django-crontab names each crontab line by a hash of its job, schedule included. Once
HEALTHCHECK_SCHEDULE or PRUNE_SCHEDULE changes, the installed lines carry hashes the settings no
longer produce: its `remove`, `add` and `show` raise half-way (after removing some lines, so the
checker can end up unscheduled), and `crontab run` of an old line fails at every tick. Here a
line is matched by re-hashing each configured job with that line's own schedule, so old lines
are listed, removed and still run (with a warning to reinstall) until `crontab add` replaces
them.
"""

from __future__ import annotations

import hashlib
import json
import sys

from django.core.management.base import CommandError
from django_crontab.crontab import Crontab
from django_crontab.management.commands.crontab import Command as CrontabCommand

REINSTALL = "run 'manage.py crontab add' to install the current schedules"


def hash_of(job: tuple | list) -> str:
    """django-crontab's hash of a CRONJOBS entry (its private Crontab.__hash_job)."""
    return hashlib.md5(json.JSONEncoder(sort_keys=True).encode(job).encode("utf-8")).hexdigest()


class ScheduleSafeCrontab(Crontab):
    def _lines(self) -> list[tuple[str, str, str]]:
        """(line, schedule, hash) of every crontab line of this deployment."""
        found = []
        for line in self.crontab_lines:
            parsed = self.settings.CRONTAB_LINE_REGEXP.findall(line)
            if parsed and parsed[0][4] == self.settings.CRONTAB_COMMENT:
                schedule, command = parsed[0][0].strip(), parsed[0][2]
                # A hand-edited line may have lost its hash: it is still this deployment's.
                hash_ = (command.split("crontab run", 1)[1:] or [""])[0].split()[:1]
                found.append((line, schedule, hash_[0] if hash_ else ""))
        return found

    def resolve(self, hash_: str, schedule: str | None = None) -> tuple[tuple | list, bool]:
        """The job behind a line's hash, and whether the line is current."""
        for job in self.settings.CRONJOBS:
            if hash_of(job) == hash_:
                return job, True
        if schedule is not None:
            for job in self.settings.CRONJOBS:
                if hash_of([schedule, *job[1:]]) == hash_:
                    return job, False
        raise CommandError(f"no configured job has crontab hash {hash_}: {REINSTALL}")

    def _describe(self, schedule: str, hash_: str) -> str:
        try:
            job, current = self.resolve(hash_, schedule)
        except CommandError:
            return f"({hash_}) -> no longer configured"
        return f"({hash_}) -> {job[1]} at '{schedule}'{'' if current else ' (old schedule)'}"

    def show_jobs(self) -> None:
        print("Currently active jobs in crontab:")
        for _, schedule, hash_ in self._lines():
            print(self._describe(schedule, hash_))

    def remove_jobs(self) -> None:
        for line, schedule, hash_ in self._lines():
            self.crontab_lines.remove(line)
            if self.verbosity >= 1:
                print(f"removing cronjob: {self._describe(schedule, hash_)}")

    def run_job(self, job_hash: str) -> None:
        """Run the line's job even when its schedule changed since it was installed."""
        try:
            job, _ = self.resolve(job_hash)
        except CommandError:
            self.read()
            schedule = next((s for _, s, h in self._lines() if h == job_hash), None)
            job, _ = self.resolve(job_hash, schedule)
            print(f"cronmonitor: this crontab line is out of date; {REINSTALL}", file=sys.stderr)
        super().run_job(hash_of(job))


class Command(CrontabCommand):
    def handle(self, *args, **options) -> None:
        subcommand = options["subcommand"]
        if subcommand == "run":
            ScheduleSafeCrontab(**options).run_job(options["jobhash"])
            return
        with ScheduleSafeCrontab(readonly=subcommand == "show", **options) as crontab:
            if subcommand == "show":
                crontab.show_jobs()
                return
            crontab.remove_jobs()
            if subcommand == "add":
                crontab.add_jobs()
