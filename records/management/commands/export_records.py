from django.core.management.base import BaseCommand, CommandError

from records.importing import FORMATS, export_records
from records.management.commands.import_records import find_class


class _Raw:
    """Writes chunks to the command's stdout as they are, with no added line endings."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")


class Command(BaseCommand):
    help = "Export the records of a class as CSV, a JSON array or NDJSON (stdout or -o FILE)."

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("class_name", metavar="CLASS")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("-o", "--output", metavar="FILE", help="default: stdout")

    def handle(self, *args, app_id, class_name, format, output, **options):
        klass = find_class(app_id, class_name)
        if not output or output == "-":
            export_records(klass, _Raw(self.stdout), format)
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as out:
                export_records(klass, out, format)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
