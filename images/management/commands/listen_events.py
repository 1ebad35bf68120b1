from django.conf import settings
from django.core.management.base import BaseCommand

from images.engine import get_engine
from images.lifecycle.events import listen


class Command(BaseCommand):
    help = "Follow each engine's image events: record tag moves and update open image pages."

    def add_arguments(self, parser):
        parser.add_argument("--engine", default="default", choices=sorted(settings.DOCKYARD_ENGINES))

    def handle(self, *args, engine, **options):
        target = get_engine(engine)
        self.stdout.write(f"Listening to image events of {target.address}")
        listen(target)
