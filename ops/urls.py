from django.urls import path

from ops import views
from ops.metrics import metrics_view

urlpatterns = [
    path("health", views.ready, name="health"),
    path("health/live", views.live, name="health-live"),
    path("metrics", metrics_view, name="metrics"),
]
