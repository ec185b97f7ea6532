import json

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Application


class Command(BaseCommand):
    help = "Create an application and print its credentials as JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1-100 characters")
        app = Application.objects.create(name=name)
        self.stdout.write(json.dumps(app.credentials()))
