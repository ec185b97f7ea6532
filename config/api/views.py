"""The base of every API view: the query string is parsed (and refused when malformed)
before the handler runs, whether or not the handler reads it."""

from django.conf import settings
from rest_framework.views import APIView

from config.api.params import query_params
from config.replica import replica_reads


class ApiView(APIView):
    # A view that sets this lets its GET read from the read replica when
    # REPLICA_FOR_API_READS is on (config/replica.py). Authentication has run by then,
    # on the primary.
    replica_reads_ok = False
    _replica_block = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        query_params(request)
        if self.replica_reads_ok and request.method == "GET" and settings.REPLICA_FOR_API_READS:
            self._replica_block = replica_reads()
            self._replica_block.__enter__()

    def finalize_response(self, request, response, *args, **kwargs):
        if self._replica_block is not None:
            self._replica_block.__exit__(None, None, None)
            self._replica_block = None
        return super().finalize_response(request, response, *args, **kwargs)
