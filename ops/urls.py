from django.urls import path

from ops import views

urlpatterns = [
    path("health", views.ready, name="health"),
    path("health/live", views.live, name="health-live"),
]
