import sys
import time

from django.core.management.base import BaseCommand, CommandError

from accounts.importing import users_import
from accounts.models import Application
from config.streams import FORMATS, ImportFailed, detect_format


class Command(BaseCommand):
    help = (
        "Create the users of an application from a CSV or JSON file of login, password, email, "
        "full_name, tags and the other user fields (phone, website, external_user_id, "
        "external_id, facebook_id, twitter_id, blob_id, avatar, custom_data, timezone; '-' "
        "reads stdin). Each user is checked as a sign-up is; failed lines are listed and the "
        "exit status is 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file extension")
        parser.add_argument("--dry-run", action="store_true", help="check every user, create none")

    def handle(self, *args, app_id, file, format, dry_run, **options):
        try:
            app = Application.objects.get(pk=int(app_id))
        except (ValueError, Application.DoesNotExist):
            raise CommandError(f"there is no application {app_id}") from None
        started = time.monotonic()
        try:
            fmt = detect_format(file, format)
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except ImportFailed as exc:
            raise CommandError(f"{file}: {exc}") from None
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            report = users_import(
                application=app,
                stream=stream,
                fmt=fmt,
                dry_run=dry_run,
                on_error=lambda line, problem: self.stderr.write(f"{file}: line {line}: {problem}"),
            )
        except ImportFailed as exc:
            raise CommandError(f"{file}: {exc}") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        verb = "would be created" if dry_run else "created"
        self.stdout.write(
            f"rows read: {report.rows_read}, {verb}: {report.created}, failed: {report.failed}, "
            f"seconds: {time.monotonic() - started:.2f}"
        )
        if report.failed:
            raise CommandError(f"{report.failed} rows failed")
