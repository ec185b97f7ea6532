from django.urls import path

from accounts import api

urlpatterns = [
    path("session", api.SessionView.as_view(), name="session"),
    path("login", api.LoginView.as_view(), name="login"),
    path("users", api.UsersView.as_view(), name="users"),
    path("users/<int:user_id>", api.UserView.as_view(), name="user"),
]
