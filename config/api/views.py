"""The base of every API view: the query string is parsed (and refused when malformed)
before the handler runs, whether or not the handler reads it."""

from rest_framework.views import APIView

from config.api.params import query_params


class ApiView(APIView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        query_params(request)
