"""Clients that trickle or never finish their request cannot hold the server: heads have
a deadline (HEADER_TIMEOUT_SECONDS), bodies an idle limit (BODY_IDLE_SECONDS), and
neither holds a thread meanwhile. (bench/abuse_bench.py measures the latency of normal
requests beside 50 such clients.)"""

import socket
import time

import requests

SLOW = {"HEADER_TIMEOUT_SECONDS": "2", "BODY_IDLE_SECONDS": "2"}


def connect(server) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=10)


def closed_by_server(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing, or None if it kept the connection open."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
        return received
    except TimeoutError:
        return None


def test_fifty_stuck_clients_do_not_hold_the_only_worker(app_servers):
    (server,) = app_servers.start(workers=1, env=SLOW)
    stuck = []
    for n in range(50):
        sock = connect(server)
        if n % 2:  # a body that never comes: with ASGI_THREADS=4 these would hold them all
            sock.sendall(
                b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
        else:  # a head that never ends
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        stuck.append(sock)
    began = time.monotonic()
    for _ in range(20):
        assert requests.get(server.url + "/health", timeout=5).status_code == 200
    assert time.monotonic() - began < 10  # answered, not queued behind the stuck ones
    for sock in stuck:
        sock.close()


def test_a_head_sent_a_byte_at_a_time_is_cut_off(app_servers):
    (server,) = app_servers.start(env=SLOW)
    sock = connect(server)
    began = time.monotonic()
    sock.settimeout(0.5)
    closed = False
    for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
        try:
            sock.send(bytes([byte]))
            if sock.recv(1) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except OSError:
            closed = True
            break
    assert closed, "the server still waits for the head"
    assert time.monotonic() - began < 6


def test_a_silent_connection_is_closed(app_servers):
    (server,) = app_servers.start(env=SLOW)
    sock = connect(server)
    assert closed_by_server(sock, within=6) == b""


def test_a_body_that_stops_arriving_gets_408(app_servers):
    (server,) = app_servers.start(env=SLOW)
    sock = connect(server)
    sock.sendall(
        b"POST /session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    answer = closed_by_server(sock, within=6)
    assert answer is not None and answer.startswith(b"HTTP/1.1 408")
    assert b"the request body stopped arriving" in answer
