"""Console screens: an application's webhooks, their deliveries and every attempt."""

from django import forms
from django.contrib import admin, messages

from events.models import EVENT_TYPES, Attempt, Delivery, Webhook
from events.webhooks import TargetRefused, check_target, resend


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = Webhook
        fields = ["application", "url", "secret", "classes", "event_types", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            check_target(url)
        except TargetRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean_event_types(self):
        types = self.cleaned_data["event_types"]
        unknown = set(types) - set(EVENT_TYPES)
        if unknown:
            raise forms.ValidationError(f"unknown: {', '.join(sorted(unknown))}")
        return types


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "application", "enabled", "classes", "event_types", "created_at"]
    list_filter = ["enabled", "application"]
    search_fields = ["url"]


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["at", "status_code", "duration_ms", "excerpt", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_id", "event_type", "webhook", "status", "attempts", "created_at"]
    list_filter = ["status", "event_type", "webhook"]
    readonly_fields = [
        "webhook",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "created_at",
        "delivered_at",
        "body",
    ]
    inlines = [AttemptInline]
    actions = ["resend_deliveries"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resend the selected deliveries")
    def resend_deliveries(self, request, queryset):
        count = resend(queryset)
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)
