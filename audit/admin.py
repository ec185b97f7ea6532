"""Every audit entry, read-only, also those of deleted applications (console/audit.py shows
one application's)."""

from django.contrib import admin

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "application_id", "actor", "action", "kind", "target")
    list_filter = ("kind", "action")
    search_fields = ("actor", "target", "=application_id")
    list_per_page = 50
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
