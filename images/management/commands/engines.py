import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from images import engines


class Command(BaseCommand):
    help = ("List the engines (DOCKYARD_ENGINES): name, queue and address, one a line. scripts/run.sh asks it "
            "for the engines to follow and the queues its worker serves.")

    def add_arguments(self, parser):
        parser.add_argument("--names", action="store_true", help="Only the names, one a line.")
        parser.add_argument("--worker-queues", action="store_true",
                            help="The queues a worker on this host serves, comma-separated: DOCKYARD_QUEUE (the "
                                 "periodic tasks) and those of the engines DOCKYARD_WORKER_ENGINES names, by "
                                 "default every unix:// (local) engine.")

    def handle(self, *args, names, worker_queues, **options):
        if names:
            self.stdout.write("\n".join(engines.names()))
        elif worker_queues:
            # DOCKYARD_QUEUE itself too: celery beat's periodic tasks go there (it is also the default engine's).
            queues = dict.fromkeys([settings.DOCKYARD_QUEUE] + [engines.queue_for(name) for name in self._served()])
            self.stdout.write(",".join(queues))
        else:
            for name, address in settings.DOCKYARD_ENGINES.items():
                self.stdout.write(f"{name}\t{engines.queue_for(name)}\t{address}")

    def _served(self):
        chosen = [name.strip() for name in os.environ.get("DOCKYARD_WORKER_ENGINES", "").split(",") if name.strip()]
        unknown = [name for name in chosen if not engines.exists(name)]
        if unknown:
            raise CommandError(f"DOCKYARD_WORKER_ENGINES names {', '.join(unknown)}, which DOCKYARD_ENGINES does not.")
        served = chosen or [name for name, address in settings.DOCKYARD_ENGINES.items()
                            if address.startswith("unix://")]
        return served
