"""Console screens for applications (with their keys) and their users.

They live in the console, not in accounts, because they show what builds on accounts
(classes, records, files): accounts imports none of those apps."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import include, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.deletion import before_owner_deletion
from accounts.models import ApiUser, Application
from accounts.services import LOGIN_RE, MIN_PASSWORD, parse_tags, taken_fields
from accounts.user_fields import clean_user_fields
from classes.models import ObjectClass
from config.api.errors import Unprocessable
from config.api.indexes import is_index
from config.replica import replica_reads, replica_view
from console.base import count_per

admin.site.site_header = "cubebase"
admin.site.site_title = "cubebase console"
admin.site.index_title = "Dashboard"
# The front page has its own template: overriding admin/index.html would also change every
# app's index page (admin/app_index.html extends it), which then showed the cards' context.
admin.site.index_template = "console/index.html"

_admin_index = admin.site.index


def count_of(model):
    """How many `model` rows belong to each application."""
    return count_per(model, "application")


def console_index(request, extra_context=None):
    """The front page lists the applications as cards (templates/admin/index.html).
    Set on the site instance before its URLs are built, so the admin's own wrapping and
    staff check apply unchanged."""
    from blobs.models import Blob

    applications = Application.objects.annotate(
        n_classes=count_of(ObjectClass), n_users=count_of(ApiUser), n_blobs=count_of(Blob)
    )
    return _admin_index(request, {"console_applications": applications, **(extra_context or {})})


admin.site.index = replica_view(console_index)  # counts: the replica may answer them

import console.login  # noqa: E402, F401  (throttles the login page; see there)


def copyable(value: str, label: str):
    """A key shown in monospace with a button that copies it (static/console/console.js)."""
    return format_html(
        '<code class="cb-key" data-copy-source>{}</code> '
        '<button type="button" class="button cb-copy" data-copy aria-label="Copy {}">Copy</button>',
        value,
        label,
    )


def application_counts(app) -> dict:
    from blobs.models import Blob
    from records.models import Record

    return {
        "classes": ObjectClass.objects.filter(application=app).count(),
        "records": Record.objects.filter(application=app).count(),
        "users": ApiUser.objects.filter(application=app).count(),
        "files": Blob.objects.filter(application=app).count(),
    }


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "application_id",
        "auth_key",
        "class_count",
        "user_count",
        "modules",
        "created_at",
    )
    list_display_links = ("name",)
    search_fields = ("name",)
    actions = ["regenerate_keys"]
    change_form_template = "admin/accounts/application/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_classes=count_of(ObjectClass), _users=count_of(ApiUser))
        )

    def get_fields(self, request, obj=None):
        return (
            ("name",)
            if obj is None
            else (
                "name",
                "application_id_key",
                "auth_key_copy",
                "auth_secret_copy",
                "users_api_v1",
                "users_show_contacts",
            )
        )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("application_id_key", "auth_key_copy", "auth_secret_copy")

    @admin.display(description="Application ID", ordering="id")
    def application_id(self, obj):
        return obj.pk

    @admin.display(description="Application ID")
    def application_id_key(self, obj):
        return copyable(str(obj.pk), "application id")

    @admin.display(description="Authorization key")
    def auth_key_copy(self, obj):
        return copyable(obj.auth_key, "authorization key")

    @admin.display(description="Authorization secret")
    def auth_secret_copy(self, obj):
        return copyable(obj.auth_secret, "authorization secret")

    @admin.display(description="Classes", ordering="_classes")
    def class_count(self, obj):
        return obj._classes

    @admin.display(description="Users", ordering="_users")
    def user_count(self, obj):
        return obj._users

    @admin.display(description="Modules")
    def modules(self, obj):
        return format_html(
            '<span class="cb-modules"><a href="{}">Custom</a><a href="{}">Storage</a>'
            '<a href="{}?application__id__exact={}">Users</a></span>',
            reverse("admin:console_custom", args=[obj.pk]),
            reverse("admin:console_storage", args=[obj.pk]),
            reverse("admin:accounts_apiuser_changelist"),
            obj.pk,
        )

    @admin.action(description="Regenerate keys of the selected applications")
    def regenerate_keys(self, request, queryset):
        for app in queryset:
            app.regenerate_keys()
        self.message_user(request, f"New keys for {len(queryset)} application(s).")

    def get_deleted_objects(self, objs, request):
        """Counts instead of the admin's list of every related row: an application may hold
        millions of records, and listing them would never finish."""
        lines = []
        for app in objs:
            counts = application_counts(app)
            lines.append(f"{app}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
        return lines, {"applications": len(objs)}, set(), []

    def delete_model(self, request, obj):
        before_owner_deletion(application_ids=[obj.pk])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        before_owner_deletion(application_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)

    def response_add(self, request, obj, post_url_continue=None):
        # A new application opens on its overview, where its keys are.
        return HttpResponseRedirect(reverse("admin:accounts_application_change", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        app = self.get_object(request, object_id)
        extra = {"console_app": app, "console_section": "overview", **(extra_context or {})}
        if app is not None:
            with replica_reads():  # counts may lag a moment
                extra["app_counts"] = application_counts(app)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def get_urls(self):
        from console.urls import console_patterns

        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:app_id>/regenerate-keys/",
                wrap(require_POST(self.regenerate_view)),
                name="accounts_application_regenerate",
            ),
            path("<int:app_id>/", include(console_patterns(wrap))),
            *super().get_urls(),
        ]

    def regenerate_view(self, request, app_id):
        app = get_object_or_404(Application, pk=app_id)
        app.regenerate_keys()
        messages.success(
            request, "New authorization key and secret: the old ones stop working now."
        )
        return HttpResponseRedirect(reverse("admin:accounts_application_change", args=[app.pk]))


def _profile_field(label: str, help_text: str = "", widget=None) -> forms.Field:
    return forms.CharField(
        label=label, required=False, help_text=help_text, widget=widget, strip=False
    )


class ApiUserForm(forms.ModelForm):
    """Tags as one comma-separated field; the password is hashed, never stored in clear.
    The profile fields are checked by accounts.user_fields, as the API checks them."""

    phone = _profile_field("Phone", "Digits, an optional leading +, spaces and ( ) - .")
    website = _profile_field("Website", "example.com is saved as http://example.com")
    avatar = _profile_field("Avatar", "An id or an address of the user's picture")
    blob_id = _profile_field("Avatar file", "The id of a file (blob) of this application")
    timezone = _profile_field("Time zone", "Minutes from UTC, -720 to 840")
    external_user_id = _profile_field("External user id", "A positive integer, unique here")
    external_id = _profile_field("External id", "Unique in the application")
    facebook_id = _profile_field("Facebook id", "Unique in the application")
    twitter_id = _profile_field("Twitter id", "Unique in the application")
    custom_data = _profile_field(
        "Custom data", "Any text, up to 65,535 characters", forms.Textarea(attrs={"rows": 3})
    )
    PROFILE = ("phone", "website", "avatar", "blob_id", "timezone", "external_user_id",
               "external_id", "facebook_id", "twitter_id", "custom_data")  # fmt: skip

    tags_text = forms.CharField(
        label="Tags", required=False, help_text="Comma-separated, e.g. officers, staff"
    )
    new_password = forms.CharField(
        label="Password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=f"At least {MIN_PASSWORD} characters. Leave empty to keep the current one.",
    )

    class Meta:
        model = ApiUser
        fields = ("application", "login", "email", "full_name")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile: dict = {}  # the profile fields, cleaned
        for name in self.PROFILE:  # the stored values, as text
            value = getattr(self.instance, name)
            self.initial.setdefault(name, "" if value is None else str(value))
        self.fields["tags_text"].initial = ", ".join(self.instance.tags or [])
        if self.instance.pk is None:
            self.fields["new_password"].required = True
            self.fields["new_password"].help_text = f"At least {MIN_PASSWORD} characters."
        else:
            self.fields["application"].disabled = True

    def clean_login(self):
        login = (self.cleaned_data.get("login") or "").strip()
        if login and not LOGIN_RE.match(login):
            raise forms.ValidationError("3-100 characters with no spaces or commas.")
        return login or None

    def clean_email(self):
        return (self.cleaned_data.get("email") or "").strip() or None

    def clean_tags_text(self):
        try:
            return parse_tags(self.cleaned_data.get("tags_text", ""))
        except Unprocessable as exc:
            raise forms.ValidationError(exc.errors["tags"]) from None

    def clean_new_password(self):
        password = self.cleaned_data.get("new_password") or ""
        if password and len(password) < MIN_PASSWORD:
            raise forms.ValidationError(f"At least {MIN_PASSWORD} characters.")
        return password

    def clean(self):
        data = super().clean()
        app = data.get("application") or self.instance.application_id and self.instance.application
        # First: whatever is refused below, the fields then hold stored values, not text.
        self._clean_profile(app, data)
        # Only when neither was typed: a login or email refused above already says why.
        typed = (self.data.get("login") or "").strip() or (self.data.get("email") or "").strip()
        if not typed:
            raise forms.ValidationError("A login or an email is required.")
        others = ApiUser.objects.filter(application=app).exclude(pk=self.instance.pk)
        if data.get("login") and others.filter(login=data["login"]).exists():
            self.add_error("login", "This login is taken in this application.")
        if data.get("email") and others.filter(email__iexact=data["email"]).exists():
            self.add_error("email", "This email is taken in this application.")
        return data

    def _clean_profile(self, app, data) -> None:
        raw = {name: data.get(name, "") for name in self.PROFILE}
        clean, errors = clean_user_fields(raw, application_id=app.pk if app else 0)
        # the admin's form also copies these into the instance: the stored values, not text
        data.update({name: value for name, value in clean.items() if name in data})
        for name, problems in errors.items():
            self.add_error(name, problems[0][:1].upper() + problems[0][1:] + ".")
        if errors or not app:
            return
        self.profile = clean
        probe = ApiUser(pk=self.instance.pk, application=app, **clean)
        for name in taken_fields(probe):
            if name in self.PROFILE:
                self.add_error(name, "This value is taken by another user of this application.")

    def save(self, commit=True):
        user = super().save(commit=False)
        user.tags = self.cleaned_data["tags_text"]
        for name, value in self.profile.items():
            setattr(user, name, value)
        if self.cleaned_data.get("new_password"):
            user.set_password(self.cleaned_data["new_password"])
        if commit:
            user.save()
        return user


@admin.register(ApiUser)
class ApiUserAdmin(admin.ModelAdmin):
    form = ApiUserForm
    list_display = (
        "id",
        "login",
        "email",
        "full_name",
        "tag_list",
        "created_at",
        "last_request_at",
    )
    list_display_links = ("id", "login")
    list_filter = ("application",)
    search_fields = ("login", "email", "full_name", "tags")
    fieldsets = (
        (None, {"fields": ("application", "login", "email", "full_name", "tags_text",
                           "new_password")}),
        ("Profile", {"fields": tuple(ApiUserForm.PROFILE)}),
    )  # fmt: skip
    list_per_page = 50

    @admin.display(description="Tags")
    def tag_list(self, obj):
        return ", ".join(obj.tags)

    def _app_from_request(self, request):
        """The application a users page is about: its filter, ?application=, or the filter
        the admin keeps in `_changelist_filters` on the add page."""
        kept = QueryDict(request.GET.get("_changelist_filters", ""))
        for params in (request.GET, kept):
            app_id = params.get("application__id__exact") or params.get("application")
            if is_index(str(app_id)):
                return Application.objects.filter(pk=app_id).first()
        return None

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        app = self._app_from_request(request)
        if app is not None:
            initial["application"] = app.pk
        return initial

    def changelist_view(self, request, extra_context=None):
        app = self._app_from_request(request)
        extra = {"console_app": app, "console_section": "users", **(extra_context or {})}
        if app:
            extra["title"] = f"Users of {app.name}"
        return super().changelist_view(request, extra_context=extra)

    def add_view(self, request, form_url="", extra_context=None):
        app = self._app_from_request(request)
        extra = {"console_app": app, "console_section": "users", **(extra_context or {})}
        return super().add_view(request, form_url, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        app = user.application if user else None
        extra = {"console_app": app, "console_section": "users", **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def delete_model(self, request, obj):
        before_owner_deletion(owner_ids=[obj.pk])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        before_owner_deletion(owner_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)

    def _back_to_list(self, obj):
        url = reverse("admin:accounts_apiuser_changelist")
        return HttpResponseRedirect(f"{url}?application__id__exact={obj.application_id}")

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_continue" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, f"User “{obj}” created.", messages.SUCCESS)
        return self._back_to_list(obj)

    def response_change(self, request, obj):
        if "_addanother" in request.POST or "_continue" in request.POST:
            return super().response_change(request, obj)
        self.message_user(request, f"User “{obj}” saved.", messages.SUCCESS)
        return self._back_to_list(obj)
