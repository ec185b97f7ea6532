from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "config.api"
    label = "api"
    verbose_name = "Request layer"

    def ready(self):
        # Registers the CB-Token scheme with drf-spectacular.
        from config.api import schema  # noqa: F401
