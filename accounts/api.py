"""/session, /login and /users (API.md §2). Thin: parameters in, services, JSON out."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.authentication import HasSession, token_from
from accounts.caller import Caller
from accounts.models import ApiUser
from accounts.serializers import hides_contacts, session_json, user_json
from accounts.users_api import V1_PAGE_EXAMPLE, users_v1_list
from config.api.errors import Forbidden, NotFound, Unauthorized
from config.api.params import all_params, body_params
from config.api.schema import api_doc
from config.api.views import ApiView

USER_EXAMPLE = {
    "id": 12,
    "full_name": "Dana Scully",
    "email": "dana@example.com",
    "login": "dana",
    "phone": "+6110797757",
    "website": "http://dana.example.com",
    "created_at": "2026-11-22T10:26:01Z",
    "updated_at": "2026-11-22T10:26:01Z",
    "last_request_at": "2026-11-22T10:40:12Z",
    "external_user_id": None,
    "external_id": None,
    "facebook_id": None,
    "twitter_id": None,
    "blob_id": None,
    "custom_data": None,
    "avatar": None,
    "user_tags": "officers,doctors",
    "timezone": 180,
}
SESSION_EXAMPLE = {
    "id": 501,
    "application_id": 1,
    "user_id": 12,
    "token": "6f1b0c8d2e9a47c3b5d1e0f2a4c6b8d0e2f4a6c8b0d2e4f6",
    "nonce": "2941",
    "ts": 1795774000,
    "created_at": "2026-11-22T10:26:01Z",
    "updated_at": "2026-11-22T10:26:01Z",
}
CREDENTIALS_401 = (
    "A wrong application id, auth_key, signature, login or password all answer the same "
    '401 `{"errors": {"base": ["Unauthorized"]}}`.'
)


class SessionView(ApiView):
    def _creating(self) -> bool:
        request = getattr(self, "request", None)
        return request is not None and request.method == "POST"

    def get_permissions(self):
        return [AllowAny()] if self._creating() else [HasSession()]

    def perform_authentication(self, request):
        # Creating a session needs none, and a stale token sent along must not stop it.
        if not self._creating():
            super().perform_authentication(request)

    @api_doc(
        "Create a session",
        tags=["sessions"],
        auth=False,
        description=(
            "Without `user` this is an application session (`user_id` 0); with `user` "
            "(`login` or `email`, and `password`) a user session. When `timestamp`, `nonce` "
            "and `signature` are sent, the signature must be the HMAC-SHA1 with the "
            "application's `auth_secret` of the other parameters sorted by name and joined "
            "as `key=value&...` (nested keys as `user[login]`). " + CREDENTIALS_401
        ),
        request={
            "application_id": 1,
            "auth_key": "Yh3nB...",
            "user": {"login": "dana", "password": "correct-horse-battery"},
        },
        responses={201: {"session": {**SESSION_EXAMPLE, "user": USER_EXAMPLE}}},
        errors=(401,),
    )
    def post(self, request):
        session, token = services.session_create(
            params=body_params(request) or all_params(request),
            address=request.META.get("REMOTE_ADDR"),
        )
        return Response({"session": _session_body(session, token)}, status=201)

    @api_doc(
        "The current session",
        tags=["sessions"],
        description=(
            "Every request with the token keeps the session alive for two more hours. "
            "A user session carries its `user`."
        ),
        responses={200: {"session": {**SESSION_EXAMPLE, "user": USER_EXAMPLE}}},
    )
    def get(self, request):
        return Response({"session": _session_body(request.auth, token_from(request))})

    @api_doc(
        "End the session",
        tags=["sessions"],
        description="The token is refused from then on.",
        responses={200: None},
    )
    def delete(self, request):
        request.auth.delete()
        return Response(status=200)


def _session_body(session, token) -> dict:
    """A session's JSON; a user session carries its user, as ConnectyCube answers."""
    body = session_json(session, token)
    if session.user is not None:
        body["user"] = user_json(session.user)
    return body


class LoginView(ApiView):
    permission_classes = [HasSession]

    @api_doc(
        "Log a user in on this session",
        tags=["sessions"],
        description="Turns the session into a session of the user. " + CREDENTIALS_401,
        request={"login": "dana", "password": "correct-horse-battery"},
        responses={200: {"user": USER_EXAMPLE}},
    )
    def post(self, request):
        params = all_params(request)
        creds = params.get("user") if isinstance(params.get("user"), dict) else params
        user = services.session_login(
            session=request.auth, creds=creds, address=request.META.get("REMOTE_ADDR")
        )
        return Response({"user": user_json(user)})

    @api_doc(
        "Log the user out",
        tags=["sessions"],
        description="The session becomes an application session again.",
        responses={200: None},
    )
    def delete(self, request):
        services.session_logout(session=request.auth)
        return Response(status=200)


class UsersView(ApiView):
    """POST /users: sign-up with a session of the application or a `CB-AuthKey` header;
    GET /users: the deprecated v1 list (accounts/users_api.py)."""

    permission_classes = [AllowAny]

    @api_doc(
        "List users (v1, deprecated)",
        operation_id="users_list",
        tags=["users"],
        description=(
            "Only when the application's console setting 'list users API v1' is on (else "
            "403). `filter[]=TYPE FIELD OPERATOR VALUE` (TYPE `number`, `string` or `date`; "
            "OPERATOR `eq ne gt lt ge le in between`, lists comma-separated), any user field "
            "but `custom_data`; `order=asc|desc TYPE FIELD`; `page`, `per_page` (default 10, "
            "max 100)."
        ),
        responses={200: V1_PAGE_EXAMPLE},
        errors=(403, 422),
    )
    def get(self, request):
        if not isinstance(request.user, Caller):
            raise Unauthorized()
        return users_v1_list(request)

    @api_doc(
        "Sign up",
        tags=["users"],
        description=(
            "Needs a session of the application, or, before any session exists, the "
            "application's `auth_key` in a `CB-AuthKey` header. `login` or `email` is "
            "required; `password` at least 8 characters; `tags` (or `tag_list`) a "
            "comma-separated string or a list (the user's groups). Optional: `phone`, "
            "`website`, `external_user_id`, `external_id`, `facebook_id`, `twitter_id`, "
            "`blob_id` (a file of the application), `avatar`, `custom_data` (a string), "
            "`timezone` (minutes from UTC); see docs/api.md for their rules."
        ),
        request={
            "user": {
                "login": "dana",
                "password": "correct-horse-battery",
                "email": "dana@example.com",
                "full_name": "Dana Scully",
                "tags": "officers,doctors",
            }
        },
        responses={201: {"user": USER_EXAMPLE}},
        errors=(422,),
    )
    def post(self, request):
        application = self._application(request)
        user = services.user_create(application=application, data=all_params(request).get("user"))
        return Response({"user": user_json(user)}, status=201)

    def _application(self, request):
        if isinstance(request.user, Caller):
            return request.user.application
        auth_key = request.META.get("HTTP_CB_AUTHKEY")
        if auth_key and not token_from(request):
            return services.application_by_auth_key(auth_key)
        raise Unauthorized()


class UserView(ApiView):
    permission_classes = [HasSession]

    def _user(self, request, user_id) -> ApiUser:
        user = ApiUser.objects.filter(application=request.user.application, pk=user_id).first()
        if user is None:
            raise NotFound("User not found")
        return user

    def _own(self, request, user_id) -> ApiUser:
        user = self._user(request, user_id)
        if request.user.user_id != user.pk:
            raise Forbidden("You can change only your own user")
        return user

    @api_doc(
        "A user of the application",
        tags=["users"],
        responses={200: {"user": USER_EXAMPLE}},
        errors=(404,),
    )
    def get(self, request, user_id):
        user = self._user(request, user_id)
        return Response({"user": user_json(user, hide_contacts=hides_contacts(request.user, user))})

    @api_doc(
        "Update your own user",
        tags=["users"],
        description=(
            "Any field of the sign-up; `null` or an empty string clears a field. A new "
            "`password` needs the current one as `old_password`."
        ),
        request={
            "user": {
                "full_name": "Dana K. Scully",
                "tags": "officers",
                "password": "a-new-long-password",
                "old_password": "correct-horse-battery",
            }
        },
        responses={200: {"user": USER_EXAMPLE}},
        errors=(403, 404, 422),
    )
    def put(self, request, user_id):
        user = services.user_update(
            user=self._own(request, user_id), data=all_params(request).get("user")
        )
        return Response({"user": user_json(user)})

    @api_doc(
        "Delete your own user",
        tags=["users"],
        description=(
            "Its sessions end at once (every later request with their tokens is a 401, on "
            "every server), and its files (blobs) go with it; its records stay."
        ),
        responses={200: None},
        errors=(403, 404),
    )
    def delete(self, request, user_id):
        services.user_delete(user=self._own(request, user_id))
        return Response(status=200)
