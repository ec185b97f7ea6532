"""/session, /login and /users (API.md §2). Thin: parameters in, services, JSON out."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.authentication import HasSession, token_from
from accounts.caller import Caller
from accounts.models import ApiSession, ApiUser
from accounts.serializers import session_json, user_json
from config.api.errors import Forbidden, NotFound, Unauthorized
from config.api.params import all_params, body_params
from config.api.views import ApiView


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

    def post(self, request):
        session, token = services.session_create(params=body_params(request) or all_params(request))
        body = session_json(session, token)
        if session.user is not None:
            body["user"] = user_json(session.user)
        return Response({"session": body}, status=201)

    def get(self, request):
        return Response({"session": session_json(request.auth, token_from(request))})

    def delete(self, request):
        request.auth.delete()
        return Response(status=200)


class LoginView(ApiView):
    permission_classes = [HasSession]

    def post(self, request):
        caller: Caller = request.user
        params = all_params(request)
        creds = params.get("user") if isinstance(params.get("user"), dict) else params
        user = services.user_by_credentials(caller.application, creds)
        ApiSession.objects.filter(pk=request.auth.pk).update(user=user)
        return Response({"user": user_json(user)})

    def delete(self, request):
        ApiSession.objects.filter(pk=request.auth.pk).update(user=None)
        return Response(status=200)


class UsersView(ApiView):
    """POST /users: sign-up with a session of the application or a `CB-AuthKey` header."""

    permission_classes = [AllowAny]

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

    def get(self, request, user_id):
        return Response({"user": user_json(self._user(request, user_id))})

    def put(self, request, user_id):
        user = services.user_update(
            user=self._own(request, user_id), data=all_params(request).get("user")
        )
        return Response({"user": user_json(user)})

    def delete(self, request, user_id):
        self._own(request, user_id).delete()
        return Response(status=200)
