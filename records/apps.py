from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Records"

    def ready(self):
        from records import lane  # noqa: F401 - registers the lean path's record routes
