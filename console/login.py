"""The console's login page, throttled like the API's logins (accounts/throttle.py): too
many failures for one user name, or from one address, and the page answers 429 with
Retry-After until the block ends, without checking any password."""

from django.contrib import admin
from django.template.response import TemplateResponse

from accounts import throttle

_admin_login = admin.site.login


def console_login(request, extra_context=None):
    if request.method != "POST":
        return _admin_login(request, extra_context)
    keys = throttle.Keys.console(
        str(request.POST.get("username", "")), request.META.get("REMOTE_ADDR")
    )
    verdict = throttle.check(keys)
    if verdict.retry_after:
        response = TemplateResponse(
            request,
            "console/problem.html",
            {
                **admin.site.each_context(request),
                "title": "Too many failed logins",
                "lines": [f"Too many failed logins: try again in {verdict.retry_after} seconds."],
            },
            status=429,
        )
        response["Retry-After"] = str(verdict.retry_after)
        return response
    response = _admin_login(request, extra_context)
    if request.user.is_authenticated:
        if verdict.account_has_failures:
            throttle.forget_account(keys)
    elif response.status_code == 200:  # the form came back: wrong name or password
        throttle.record_failure(keys)
    return response


admin.site.login = console_login
