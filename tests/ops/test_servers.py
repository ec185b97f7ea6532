"""The live-server fixture: real server processes over the test database."""

import json
import urllib.request

from accounts.models import Application


def get(url: str, headers=None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_live_server_serves_rows_the_test_committed(app_servers):
    app = Application.objects.create(name="live")
    (server,) = app_servers.start()
    assert get(server.url + "/health")[1]["status"] == "ok"

    status, body = post(
        server.url + "/session", {"application_id": app.pk, "auth_key": app.auth_key}
    )
    assert status == 201, body
    status, _ = get(server.url + "/session", {"CB-Token": body["session"]["token"]})
    assert status == 200


def test_a_stopped_server_no_longer_answers(app_servers):
    (server,) = app_servers.start()
    assert server.stop() == 0
    try:
        urllib.request.urlopen(server.url + "/health/live", timeout=2)
    except OSError:
        return
    raise AssertionError("the server still answers")


def test_requests_one_at_a_time_keep_to_the_same_threads_and_connections(app_servers):
    """The pooled threads are taken most recently used first: a server answering one
    request at a time keeps to one or two of its four threads (the next request may come
    before the last one's thread is back) and their connections, not each in turn."""
    from django.db import connection

    def backends() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    (server,) = app_servers.start()  # one worker, ASGI_THREADS=4
    before = backends()
    for _ in range(12):
        assert get(server.url + "/health")[0] == 200  # reads the database
    assert backends() - before <= 2  # taken in turn, all four served (and connected)


# A stand-in server: answers /health/live and says which folder it was started in.
_STAND_IN = """
import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.getcwd().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_server_process_runs_another_checkout_with_its_own_command(tmp_path):
    """bench/revisions.py serves an older revision from its own checkout and command."""
    import sys

    from ops.server import ServerProcess, free_port

    port = free_port()
    server = ServerProcess(
        port=port, root=tmp_path, argv=[sys.executable, "-c", _STAND_IN, str(port)]
    )
    try:
        server.wait_ready(timeout=30)
        with urllib.request.urlopen(server.url + "/health/live", timeout=10) as response:
            assert response.read().decode() == str(tmp_path)
    finally:
        server.stop(timeout=10)
    assert server.process.poll() is not None
