import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "First-run setup: create a console administrator if there is none, and say how to log in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/")

    def handle(self, *args, url, **options):
        User = get_user_model()
        password_file = settings.DATA_DIR / "admin_password"
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            self.stdout.write(self.style.SUCCESS("Created the console administrator."))
        self.stdout.write(f"Console: {url}")
        self.stdout.write(self._how_to_log_in(User, password_file))
        self.stdout.write("API docs: " + url.replace("/admin/", "/api/docs/"))

    def _how_to_log_in(self, User, password_file) -> str:
        admin = User.objects.filter(username="admin", is_superuser=True).first()
        password = password_file.read_text().strip() if password_file.exists() else ""
        if admin is not None and password and admin.check_password(password):
            return f"Log in as 'admin' with the password in {password_file}: {password}"
        # The generated password was changed in the console, or another superuser was made.
        return (
            "Log in with your administrator's password "
            "(manage.py changepassword USERNAME sets a new one)."
        )
