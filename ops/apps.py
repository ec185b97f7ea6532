from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Serving and operations"

    def ready(self):
        # Every console list (an admin changelist) reads from the read replica when one is
        # configured (config/replica.py). Done here, once every app has registered its
        # admin classes, and before the admin's URLs are built from them.
        from django.contrib import admin

        from config.replica import replica_view

        for model_admin in admin.site._registry.values():
            model_admin.changelist_view = replica_view(model_admin.changelist_view)
