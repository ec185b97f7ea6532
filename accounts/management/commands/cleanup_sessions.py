from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from accounts import throttle
from accounts.models import ApiSession


class Command(BaseCommand):
    help = (
        "Delete sessions that expired (SESSION_TTL_SECONDS after their last request). An "
        "expired token is refused either way; this keeps the table small. Run it from cron."
    )

    def handle(self, *args, **options):
        cutoff = timezone.now() - timedelta(seconds=settings.SESSION_TTL_SECONDS)
        deleted, _ = ApiSession.objects.filter(updated_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} expired sessions.")
        forgotten = throttle.purge_expired()
        self.stdout.write(f"Forgot {forgotten} expired login failure counts.")
