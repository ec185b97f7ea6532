"""What a request says, as nested dicts: the query string, the body, or both.

ConnectyCube clients put parameters in either place (the SDK sends DELETE parameters as a
form body, curl users send `-d` with GET), so most endpoints read `all_params`.
"""

from config.api.errors import BadRequest
from config.api.parsers import nest


def query_params(request) -> dict:
    cached = getattr(request, "_nested_query", None)
    if cached is None:
        cached = nest(request.query_params)
        request._nested_query = cached
    return cached


def body_params(request) -> dict:
    data = request.data
    if hasattr(data, "lists"):  # an empty QueryDict when no body was sent
        return nest(data)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be an object")
    return data


def all_params(request) -> dict:
    """Query string and body merged; the body wins where both name a key."""
    return {**query_params(request), **body_params(request)}
