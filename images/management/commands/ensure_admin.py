import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from images.accounts import roles


class Command(BaseCommand):
    help = "Create the first admin account if there is none, and say how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, username, url, **options):
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"Log in at {url} with your admin account.")
            return
        password = os.environ.get("DOCKYARD_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        admin = users.objects.create_superuser(username=username, email="", password=password)
        roles.assign(admin, roles.ADMIN)
        # The first account keeps its password login with DOCKYARD_LOCAL_LOGIN off: someone must be able to get in.
        admin.groups.add(Group.objects.get_or_create(name=roles.BREAK_GLASS)[0])
        if os.environ.get("DOCKYARD_ADMIN_PASSWORD"):
            self.stdout.write(f"Created admin {username!r} with the password in DOCKYARD_ADMIN_PASSWORD.")
        else:
            self.stdout.write(self.style.WARNING(
                f"Created admin {username!r} with password {password}\n"
                f"It is shown only now; change it with: .venv/bin/python manage.py changepassword {username}"
            ))
        self.stdout.write(f"Log in at {url}")
