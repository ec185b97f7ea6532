from django.apps import AppConfig


class BlobsConfig(AppConfig):
    name = "blobs"
    verbose_name = "Storage"

    def ready(self):
        from accounts.deletion import on_owner_deletion
        from blobs.files import schedule_owned_objects_deletion

        # Stored objects of deleted applications and users go once their delete commits.
        on_owner_deletion(schedule_owned_objects_deletion)
