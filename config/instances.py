"""Model instances made from columns already read, without Model.__init__.

    instance_with(model, columns, db)   # columns: {attname: value}

Model.__init__ sends `pre_init` and `post_init` and sets each column through its
descriptor: a few microseconds an instance, which the hot paths pay many times a request
(the session statement makes three, a page of records twenty). With no receiver of those
signals connected for the model (this checks, every time), the same instance is made by
filling its `__dict__`. Columns left out are deferred, as with `QuerySet.only()`: Django
loads one on first access, because its descriptor finds no value in `__dict__`.
"""

from django.db import models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


def instance_with(model, columns: dict, db: str | None = None):
    """An instance of `model` holding `columns`: read from database `db` (as
    `Model.from_db` makes it), or unsaved when `db` is None (as `model(**columns)`)."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        if db is None:
            return model(**columns)
        return model.from_db(db, list(columns), list(columns.values()))
    instance = models.Model.__new__(model)
    instance.__dict__.update(columns)
    instance._state = state = ModelState()
    if db is not None:
        state.adding, state.db = False, db
    return instance
