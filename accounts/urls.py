from django.urls import path

from accounts import api, password_reset, users_api

urlpatterns = [
    path("session", api.SessionView.as_view(), name="session"),
    path("login", api.LoginView.as_view(), name="login"),
    path("users", api.UsersView.as_view(), name="users"),
    path("users/v2", users_api.UsersV2View.as_view(), name="users_v2"),
    path("users/online", users_api.UsersOnlineView.as_view(), name="users_online"),
    path("users/password/reset", users_api.PasswordResetView.as_view(), name="password_reset"),
    path(
        "users/password/reset/<str:uidb64>/<str:token>",
        password_reset.reset_page,
        name="password_reset_page",
    ),
    *[
        path(f"users/{route}", users_api.UserByView.as_view(), {"route": route}, name=route)
        for route in users_api.V1_SINGLE
    ],
    *[
        path(f"users/{route}", users_api.UsersByListView.as_view(), {"route": route}, name=route)
        for route in ("by_full_name", "by_tags")
    ],
    path(
        "users/external/<int:external_id>",
        users_api.UserExternalView.as_view(),
        name="user_external",
    ),
    path("users/<int:user_id>", api.UserView.as_view(), name="user"),
]
