from django.core.management.base import BaseCommand

from classes.services import drop_orphan_indexes, orphan_indexes


class Command(BaseCommand):
    help = (
        "Drop field indexes whose field is gone or no longer indexed (left when an "
        "application is deleted with its classes). --dry-run only lists them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, dry_run=False, **options):
        names = orphan_indexes() if dry_run else drop_orphan_indexes()
        verb = "would drop" if dry_run else "dropped"
        for name in names:
            self.stdout.write(f"{verb} {name}")
        self.stdout.write(f"{len(names)} index(es) {verb}")
