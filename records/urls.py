"""The Custom Objects routes. (`data/<class>/<id>/file` lives in blobs/urls.py.)"""

from django.urls import path

from records import api

urlpatterns = [
    path("data/<str:class_name>", api.RecordsView.as_view(), name="records"),
    path("data/<str:class_name>/multi", api.MultiView.as_view(), name="records-multi"),
    path(
        "data/<str:class_name>/by_criteria",
        api.ByCriteriaView.as_view(),
        name="records-by-criteria",
    ),
    path("data/<str:class_name>/<str:ids>", api.RecordView.as_view(), name="record"),
    path(
        "data/<str:class_name>/<str:record_id>/why", api.RecordWhyView.as_view(), name="record-why"
    ),
]
