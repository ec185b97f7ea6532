from django.core.management.base import BaseCommand

from blobs.cleanup import cleanup


class Command(BaseCommand):
    help = (
        "Remove blobs never completed a day after creation, record files no record holds, "
        "and stored objects nothing points to."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be removed, remove nothing"
        )

    def handle(self, *args, dry_run=False, **options):
        sweep = cleanup(dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for key in sweep.keys:
            self.stdout.write(f"{verb} {key}")
        self.stdout.write(
            f"{verb} {len(sweep.blobs)} incomplete blob(s), "
            f"{len(sweep.record_files)} detached record file(s), "
            f"{len(sweep.orphans)} orphan object(s)"
        )
