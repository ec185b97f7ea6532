import json
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Application
from classes.services import classes_import
from config.api.errors import Unprocessable


def application_or_error(app_id) -> Application:
    try:
        return Application.objects.get(pk=int(app_id))
    except (ValueError, Application.DoesNotExist):
        raise CommandError(f"no application with id {app_id}") from None


class Command(BaseCommand):
    help = (
        "Import class schemas from a JSON file ('-' for stdin). A class that exists gets its "
        "missing fields and the file's permissions. Prints a JSON summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("file")

    def handle(self, *args, app_id, file, **options):
        app = application_or_error(app_id)
        try:
            if file == "-":
                data = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as handle:
                    data = json.load(handle)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        except ValueError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from None
        try:
            summary = classes_import(application=app, data=data)
        except Unprocessable as exc:
            lines = [f"  {key}: {'; '.join(map(str, msgs))}" for key, msgs in exc.errors.items()]
            raise CommandError("nothing imported:\n" + "\n".join(lines)) from None
        self.stdout.write(json.dumps(summary))
        if summary["indexes_failed"]:
            raise CommandError("the classes were imported, but some indexes could not be built")
