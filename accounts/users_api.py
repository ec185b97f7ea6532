"""The Users API beyond sign-up and `/users/{id}`: the v2 and v1 lists, the v1 `by_*`
lookups, who is online, and the password reset request. Thin: parameters in, the query
module or a service, JSON out."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts import password_reset
from accounts.models import ApiUser
from accounts.serializers import hides_contacts, user_json
from accounts.services import user_delete
from accounts.user_query import QueryError, filtered_v1, page_of, users_v1, users_v2, v1_page
from config.api.errors import ApiError, Forbidden, NotFound, Unprocessable
from config.api.params import all_params, query_params
from config.api.schema import api_doc
from config.api.views import ApiView

USER_EXAMPLE = {
    "id": 52671,
    "full_name": "David Smith",
    "email": None,
    "login": "smithguest18",
    "phone": None,
    "website": "http://smith.example.com",
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
    "user_tags": "guest",
    "timezone": 180,
}
# A page of the v1 list routes, as another user of the application sees it.
V1_PAGE_EXAMPLE = {
    "current_page": 1,
    "per_page": 10,
    "total_entries": 1,
    "items": [{"user": USER_EXAMPLE}],
}
V1_DISABLED = (
    "Users retrieving forbidden in admin panel, application settings: turn on "
    "'list users API v1' in the application's console page"
)


def _users(request):
    return ApiUser.objects.filter(application_id=request.user.application.pk)


def _json_list(request, users) -> list[dict]:
    """Users as the caller may see them: its own user whole, others maybe without contacts."""
    hide = hides_contacts(request.user)
    own = request.user.user_id
    return [user_json(u, hide_contacts=hide and u.pk != own) for u in users]


def _query(fn, request, params):
    try:
        return fn(request.user.application.pk, params, hide_contacts=hides_contacts(request.user))
    except QueryError as exc:
        raise ApiError(exc.errors, status=exc.status) from None


class UsersV2View(ApiView):
    @api_doc(
        "Search users (v2)",
        tags=["users"],
        description=(
            "Filters are `field=value` or `field[op]=value`. Stand-alone fields: `id, login, "
            "email, full_name, phone, external_id, facebook_id, twitter_id, user_tags`; "
            "additional: `user_tags, last_request_at, created_at, updated_at`. Operators: "
            "primary `eq in start_with`, exclude `nin`, compare `gt lt gte lte`. A query "
            "needs a stand-alone field with a primary operator; stand-alone fields take no "
            "compare operator; `start_with` needs at least 4 characters and caps `limit` at "
            "5. `offset` (default 0), `limit` (default and max 100), `sort_asc` or "
            "`sort_desc`. Anything else is a 422 saying why."
        ),
        parameters=[
            OpenApiParameter("id[in][]", int, many=True, description="example filter"),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
            OpenApiParameter("sort_asc", str),
            OpenApiParameter("sort_desc", str),
        ],
        responses={200: {"limit": 10, "skip": 0, "total_entries": 1, "items": [USER_EXAMPLE]}},
        errors=(422,),
    )
    def get(self, request):
        users, total, page = _query(users_v2, request, all_params(request))
        return Response(
            {
                "limit": page.limit,
                "skip": page.offset,
                "total_entries": total,
                "items": _json_list(request, users),
            }
        )


class V1View(ApiView):
    """The deprecated v1 routes answer only where the application turned them on."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not request.user.application.users_api_v1:
            raise Forbidden(V1_DISABLED)

    @staticmethod
    def paged(request, users, total, page) -> Response:
        return Response(
            {
                "current_page": page.offset // page.limit + 1,
                "per_page": page.limit,
                "total_entries": total,
                "items": [{"user": u} for u in _json_list(request, users)],
            }
        )

    @staticmethod
    def one(request, **lookup) -> Response:
        user = _users(request).filter(**lookup).first()
        if user is None:
            raise NotFound("User not found")
        hide = hides_contacts(request.user, user)
        return Response({"user": user_json(user, hide_contacts=hide)})


def users_v1_list(request) -> Response:
    """GET /users (v1), called by UsersView, which also answers the sign-up."""
    if not request.user.application.users_api_v1:
        raise Forbidden(V1_DISABLED)
    users, total, page = _query(users_v1, request, all_params(request))
    return V1View.paged(request, users, total, page)


V1_SINGLE = {
    "by_login": ("login", "login"),
    "by_email": ("email", "email__iexact"),
    "by_facebook_id": ("facebook_id", "facebook_id"),
    "by_twitter_id": ("twitter_id", "twitter_id"),
}


class UserByView(V1View):
    @api_doc(
        "Find a user by login, email, Facebook or Twitter id (v1)",
        tags=["users"],
        description=(
            "`/users/by_login?login=`, `/users/by_email?email=`, `/users/by_facebook_id?"
            "facebook_id=`, `/users/by_twitter_id?twitter_id=`. Needs the application "
            "setting 'list users API v1' (else 403)."
        ),
        responses={200: {"user": USER_EXAMPLE}},
        errors=(403, 404, 422),
    )
    def get(self, request, route):
        param, lookup = V1_SINGLE[route]
        value = all_params(request).get(param)
        if not isinstance(value, str) or not value:
            raise Unprocessable({param: ["is required"]})
        return self.one(request, **{lookup: value})


class UsersByListView(V1View):
    @api_doc(
        "Users by full name or by tags (v1)",
        tags=["users"],
        description=(
            "`/users/by_full_name?full_name=` (whole name, any case) and `/users/by_tags?"
            "tags=a,b` (users with any of the tags), with `page` and `per_page` (default 10, "
            "max 100). Needs the application setting 'list users API v1' (else 403)."
        ),
        responses={200: V1_PAGE_EXAMPLE},
        errors=(403, 422),
    )
    def get(self, request, route):
        params = all_params(request)
        param, name = (
            ("full_name", "full_name__eq") if route == "by_full_name" else ("tags", "user_tags__in")
        )
        value = params.get(param)
        if not value or not isinstance(value, str | list):
            raise Unprocessable({param: ["is required"]})
        try:
            users, total, page = filtered_v1(
                request.user.application.pk, {name: value}, v1_page(params)
            )
        except QueryError as exc:
            raise ApiError(exc.errors, status=exc.status) from None
        return self.paged(request, users, total, page)


class UserExternalView(V1View):
    @api_doc(
        "A user by its external user id (v1)",
        tags=["users"],
        description="Needs the application setting 'list users API v1' (else 403).",
        responses={200: {"user": USER_EXAMPLE}},
        errors=(403, 404),
    )
    def get(self, request, external_id):
        return self.one(request, external_user_id=external_id)

    @api_doc(
        "Delete your own user by its external user id",
        tags=["users"],
        responses={200: None},
        errors=(403, 404),
    )
    def delete(self, request, external_id):
        user = _users(request).filter(external_user_id=external_id).first()
        if user is None:
            raise NotFound("User not found")
        if request.user.user_id != user.pk:
            raise Forbidden("You can delete only your own user")
        user_delete(user=user)
        return Response(status=200)


class UsersOnlineView(ApiView):
    @api_doc(
        "Users online",
        tags=["users"],
        description=(
            "Users of the application with a request in the last USERS_ONLINE_MINUTES "
            "minutes (default 5), most recent first; `offset`, `limit` (default and max "
            '100). With `count=1` (or `true`) the answer is `{"count": N}`.'
        ),
        parameters=[
            OpenApiParameter("count", bool),
            OpenApiParameter("offset", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: {"users": [USER_EXAMPLE]}},
        errors=(422,),
    )
    def get(self, request):
        params = query_params(request)
        since = timezone.now() - timezone.timedelta(minutes=settings.USERS_ONLINE_MINUTES)
        online = _users(request).filter(last_request_at__gte=since)
        if str(params.get("count", "")).lower() in ("1", "true"):
            return Response({"count": online.count()})
        try:
            page = page_of(params)
        except QueryError as exc:
            raise Unprocessable(exc.errors) from None
        users = online.order_by("-last_request_at", "id").defer("password")
        users = users[page.offset : page.offset + page.limit]
        return Response({"users": _json_list(request, users)})


class PasswordResetView(ApiView):
    @api_doc(
        "Send a password reset email",
        tags=["users"],
        description=(
            "If a user of the application has this email, it receives a link to a page of "
            "this server where it sets a new password. The answer is the same 200 whether "
            "or not the email belongs to a user. `GET` with `?email=` works too."
        ),
        request={"email": "dana@example.com"},
        responses={200: None},
        errors=(422,),
    )
    def post(self, request):
        email = all_params(request).get("email")
        if not isinstance(email, str) or "@" not in email:
            raise Unprocessable({"email": ["is required"]})
        password_reset.request_reset(request, application=request.user.application, email=email)
        return Response(status=200)

    get = post
