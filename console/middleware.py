"""Names the console operator as the actor of what a console request changes."""

from audit.actor import acting_as

READS = ("GET", "HEAD", "OPTIONS")


class ConsoleActorMiddleware:
    """For a console request that may write, the audit triggers read the operator's name
    (audit/actor.py); reads cost nothing extra."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            request.method in READS
            or not request.path.startswith("/admin/")
            or user is None
            or not user.is_authenticated
        ):
            return self.get_response(request)
        with acting_as(f"console:{user.get_username()}"):
            return self.get_response(request)
