import json

from django.core.management.base import BaseCommand, CommandError

from classes.management.commands.import_classes import application_or_error
from classes.services import classes_export


class Command(BaseCommand):
    help = "Print the application's class schemas as JSON (or write them to -o FILE)."

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("-o", "--output", metavar="FILE")

    def handle(self, *args, app_id, output=None, **options):
        app = application_or_error(app_id)
        text = json.dumps(classes_export(application=app), indent=2)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        else:
            self.stdout.write(text)
