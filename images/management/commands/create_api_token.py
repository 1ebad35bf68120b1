from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from images.accounts import audit
from images.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("name", help="What the token is for, e.g. 'ci'.")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        issued, token = ApiToken.issue(user, name)
        audit.record(user, "token-create", f"{issued.name} ({issued.prefix}…)", detail="from manage.py create_api_token")
        self.stdout.write(token)
