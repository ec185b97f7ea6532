from django.urls import path

from events.views import events_view

urlpatterns = [
    path("data/<str:class_name>/events", events_view, name="record-events"),
]
