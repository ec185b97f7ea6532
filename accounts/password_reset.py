"""Password reset of application users: the email with a link, and the page it opens.

The link carries the user id and a token from Django's PasswordResetTokenGenerator keyed on
the user's password hash, so it stops working once the password changes (used once) and
after PASSWORD_RESET_TIMEOUT seconds. Setting a new password there ends every session of
the user. Mail goes through Django's mail settings (docs/configuration.md).
"""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from accounts.models import ApiSession, ApiUser
from accounts.user_fields import FieldError, clean_password

logger = logging.getLogger(__name__)


class UserTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "cubebase.accounts.password_reset"

    def _make_hash_value(self, user, timestamp):
        # The password hash changes when the password does: a used link is dead.
        return f"{user.pk}{user.application_id}{user.password}{timestamp}"


tokens = UserTokenGenerator()


def reset_link(request, user: ApiUser) -> str:
    path = reverse(
        "password_reset_page",
        args=[urlsafe_base64_encode(force_bytes(user.pk)), tokens.make_token(user)],
    )
    base = settings.PUBLIC_URL
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def request_reset(request, *, application, email: str) -> None:
    """Mail a reset link to the user of `application` with this email, if there is one.
    The caller answers the same either way; a mail that cannot be sent is logged."""
    user = ApiUser.objects.filter(application=application, email__iexact=email.strip()).first()
    if user is None:
        return
    body = (
        f"Someone asked to reset the password of your {application.name} account "
        f"({user.login or user.email}).\n\nTo choose a new password, open:\n"
        f"{reset_link(request, user)}\n\n"
        "If it was not you, ignore this message: your password stays as it is."
    )
    try:
        send_mail(
            f"Reset your {application.name} password", body, None, [user.email], fail_silently=False
        )
    except Exception:  # the mail server's failure is the operator's, not the client's
        logger.exception("password reset mail to user %s failed", user.pk)


class NewPasswordForm(forms.Form):
    password = forms.CharField(label="New password", widget=forms.PasswordInput, strip=False)
    confirm = forms.CharField(label="Repeat it", widget=forms.PasswordInput, strip=False)

    def clean_password(self):
        try:
            return clean_password(self.cleaned_data["password"])
        except FieldError as exc:
            raise forms.ValidationError(f"The password {exc}.") from None

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("confirm"):
            self.add_error("confirm", "The two passwords differ.")
        return data


def _user_of_link(uidb64: str, token: str) -> ApiUser | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, OverflowError):
        return None
    user = ApiUser.objects.select_related("application").filter(pk=pk).first()
    if user is None or not tokens.check_token(user, token):
        return None
    return user


@transaction.atomic
def set_password(*, user: ApiUser, password: str) -> None:
    """The new password; every session of the user ends."""
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    ApiSession.objects.filter(user=user).delete()


@sensitive_post_parameters("password", "confirm")
@never_cache
@csrf_protect
def reset_page(request, uidb64, token):
    """The page the emailed link opens: a form for the new password."""
    user = _user_of_link(uidb64, token)
    if user is None:
        return render(request, "accounts/password_reset.html", {"invalid": True}, status=400)
    form = NewPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        set_password(user=user, password=form.cleaned_data["password"])
        return render(request, "accounts/password_reset.html", {"done": True, "user": user})
    return render(request, "accounts/password_reset.html", {"form": form, "user": user})
