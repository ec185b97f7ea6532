"""Reads of class schemas that several parts of the API share."""

from classes.models import ObjectClass
from config.api.errors import NotFound


def class_by_name(*, application, name: str) -> ObjectClass:
    """The application's class called `name`, with its fields loaded; a 404 if there is none
    (a class of another application is simply not found)."""
    klass = (
        ObjectClass.objects.filter(application=application, name=name)
        .prefetch_related("fields")
        .first()
    )
    if klass is None:
        raise NotFound("Class not found")
    return klass
