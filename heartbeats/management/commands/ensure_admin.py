"""`manage.py ensure_admin`: on a fresh install, leave a way to log in (used by `make run`)."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the 'admin' superuser if no superuser exists; print its password once."

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        given = os.environ.get("ADMIN_PASSWORD", "").strip()
        password = given or secrets.token_urlsafe(12)
        users.create_superuser("admin", email="", password=password)
        if given:
            self.stdout.write(
                self.style.SUCCESS("Created superuser 'admin' with the password in ADMIN_PASSWORD.")
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Created superuser 'admin' with password: {password}")
            + "\nIt is shown only this once; change it in the admin (top right, 'Change password')."
        )
