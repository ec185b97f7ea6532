"""One worker of a server holds all of its event streams: the others hand it the
connections that open one.

Every worker that holds a subscription reads the journal and checks each new row against
its subscribers (events.hub), so with streams spread over three workers each row was read,
parsed and matched three times, by three more threads competing for the cores with the
API's requests. A worker that receives `GET /data/{class}/events` now passes the
connection itself to the worker holding the streams, with the bytes it read of it: the
socket's file descriptor travels over a Unix socket (SCM_RIGHTS), the holder adopts it as
if it had accepted it and parses the same bytes, and the first worker closes its own copy
(the client's TCP connection stays open: the holder has it). The client sees nothing of
this; the stream, its response and any later request on that connection are the
holder's.

    handoff = Handoff(loop, name, create_protocol)  # in each worker, at start
    handoff.give(transport, data)  # True: the holder has the connection now

Who holds: the first worker to bind the server's abstract Unix socket name (one name per
gunicorn master, `socket_name`). When the holder is gone (a crash, a restart), the next
hand-off fails, the worker that tried binds the name and holds from then on, and serves
that stream itself. A hand-off that cannot be made for any other reason (the holder's
queue full, a head larger than one message, a request in the middle of a keep-alive
connection's pipeline, TLS) leaves the stream where it is: every worker can still serve
streams itself, so this only ever moves work, never refuses it.

Linux only (abstract socket names); elsewhere no worker binds, and each serves its own
streams as before. EVENTS_HANDOFF=0 turns it off: the holder writes every frame of the
server, where spread streams let several cores write them (docs/events.md, "One worker
holds the streams", has the measurements both ways).
"""

import logging
import os
import re
import resource
import secrets
import socket

logger = logging.getLogger("cubebase.server")

# The request line of a subscription (events/urls.py): GET /data/{class}/events[.json][?...]
# (a path spelled otherwise, percent-encoded say, is served where it arrived)
EVENTS_REQUEST = re.compile(rb"GET /data/[^/?# ]+/events(?:\.json)?[? ]")
# A request head larger than this (one message over the Unix socket) is served in place.
MAX_HEAD_BYTES = 64 * 1024
BACKLOG = 64


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit, and answer it.

    The holder keeps a socket per subscription, so a thousand subscriptions on a node
    pass the soft limit most Linux systems start processes with (1,024), where spread
    over the workers they did not. When a worker is out of descriptors, a connection
    handed to it is lost (the kernel drops the descriptor from the message)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            logger.warning("could not raise the open files limit from %s to %s", soft, target)
    return soft


def socket_name() -> bytes:
    """A new abstract Unix socket name for the holder of one server's streams: made once
    by the gunicorn master, inherited by the workers it forks. The random part keeps two
    servers apart even where their masters have the same pid (containers sharing a
    network namespace, each with its own pid 1)."""
    return b"\0cubebase-streams-%d-%s" % (os.getpid(), secrets.token_hex(8).encode())


def opens_stream(data: bytes) -> bool:
    """Whether `data` starts with the request line of an event subscription."""
    return data.startswith(b"GET /data/") and EVENTS_REQUEST.match(data) is not None


class Handoff:
    """This worker's end: a listener when it holds the streams, a channel to the holder
    when it does not."""

    def __init__(self, loop, name: bytes, create_protocol):
        self.loop = loop
        self.name = name
        self.create_protocol = create_protocol
        self.listener: socket.socket | None = None
        self.channel: socket.socket | None = None
        self.siblings: set[socket.socket] = set()
        self.closed = False
        self.hold()

    @property
    def holds(self) -> bool:
        return self.listener is not None

    def hold(self) -> bool:
        """Become the holder if nobody is (the name is free)."""
        if self.closed or self.listener is not None:
            return self.listener is not None
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:  # no such sockets on this platform: every worker keeps its streams
            self.closed = True
            return False
        try:
            sock.bind(self.name)
        except OSError:  # another worker holds, or no abstract names here
            sock.close()
            return False
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self.listener = sock
        self.loop.add_reader(sock.fileno(), self._accept_sibling)
        logger.info("this worker holds the server's event streams")
        return True

    # --- a worker that does not hold -------------------------------------------------

    def give(self, transport, data: bytes) -> bool:
        """Pass the connection of `transport` and the bytes read of it to the holder.
        True: sent (the caller closes its copy and forgets the connection); False: serve
        it here."""
        if self.closed or self.listener is not None or len(data) > MAX_HEAD_BYTES:
            return False
        sock = transport.get_extra_info("socket")
        if sock is None or transport.get_extra_info("sslcontext") is not None:
            return False  # not a socket, or TLS: its session state cannot travel
        if transport.get_write_buffer_size():
            return False  # an earlier response is still being written
        for _attempt in range(2):  # a second time after finding the holder gone
            channel = self._channel()
            if channel is None:  # nobody else holds: this worker does now
                return False
            try:
                socket.send_fds(channel, [data], [sock.fileno()])
            except BlockingIOError:
                return False  # the holder is behind: this one stays here
            except OSError:  # the holder is gone: the next try finds its successor, or
                self._drop_channel()  # makes this worker the holder
                continue
            return True
        return False

    def _channel(self) -> socket.socket | None:
        if self.channel is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                sock.connect(self.name)
            except OSError:
                sock.close()
                self.hold()  # nobody holds (or the holder just went): take it
                return None
            sock.setblocking(False)
            self.channel = sock
        return self.channel

    def _drop_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    # --- the holder --------------------------------------------------------------------

    def _accept_sibling(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            logger.exception("accepting a worker's channel failed")
            return
        conn.setblocking(False)
        self.siblings.add(conn)
        self.loop.add_reader(conn.fileno(), self._receive, conn)

    def _receive(self, conn: socket.socket) -> None:
        try:
            data, fds, flags, _address = socket.recv_fds(conn, MAX_HEAD_BYTES, 4)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, fds, flags = b"", [], 0
        if flags & socket.MSG_CTRUNC and not fds:  # the descriptor could not be taken
            logger.error("a handed-over stream was lost: this worker has no file descriptor left")
            return
        if not data and not fds:  # the sibling is gone
            self.loop.remove_reader(conn.fileno())
            self.siblings.discard(conn)
            conn.close()
            return
        for fd in fds[1:]:  # never sent: one connection per message
            socket.close(fd)
        if fds:
            self.loop.create_task(self._adopt(fds[0], data))

    async def _adopt(self, fd: int, data: bytes) -> None:
        sock = socket.socket(fileno=fd)
        if self.closed:  # handed over as this worker began to stop: the client reconnects
            sock.close()
            return
        try:
            _transport, protocol = await self.loop.connect_accepted_socket(
                self.create_protocol, sock
            )
        except Exception:
            logger.exception("taking over a connection failed")
            sock.close()
            return
        protocol.data_received(data)

    def close(self) -> None:
        """Stop holding and handing over (the worker is stopping)."""
        self.closed = True
        if self.listener is not None:
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
            self.listener = None
        for conn in self.siblings:
            self.loop.remove_reader(conn.fileno())
            conn.close()
        self.siblings.clear()
        self._drop_channel()
