from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "classes"
    verbose_name = "Custom classes"

    def ready(self):
        from accounts.selectors import read_with_session

        # The schema version travels with every session check (classes.selectors).
        read_with_session("SELECT version FROM classes_schemaversion WHERE id = 1")
