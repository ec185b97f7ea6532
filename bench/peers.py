#!/usr/bin/env python
"""cubebase beside Parse Server: the same records, the same PostgreSQL, the same client.

    .venv/bin/python bench/peers.py [--records 100000] [--rounds 3] [--seconds 10]
                                    [--connections 1,8] [--ops get,list,count,create,update]
                                    [--parse-cluster] [--keep]

What it does, every step bounded in time and everything it starts stopped at the end:

1. Installs what is missing: Debian's `postgresql-15`, `postgresql-15-postgis-3` (Parse's
   PostgreSQL adapter needs PostGIS) and `wrk` (as root, with apt-get), and npm's
   `parse-server` 9.10.0 into `bench/out/peers/parse` (kept for later runs).
2. Starts a private PostgreSQL 15 on a free loopback port with `pg_stat_statements`, and
   two databases on it: one for Parse, one for cubebase.
3. Starts Parse Server (one node process, its default; `--parse-cluster` adds a second
   contender forked one process per core) and cubebase with the production server that
   `make run` uses (`ops.server.command`), both on that PostgreSQL.
4. Loads the same records into both: a class `item` with `n` Integer (indexed), `score`
   Float, `name` String and `tags` Array; one user owns them, everybody may read them.
   Requests run as that user with a user session on both sides (no master key).
5. Drives five operations with wrk at each connection count, in interleaved rounds
   (cubebase, Parse, Parse, cubebase, ...), and prints the medians: req/s, latency p50/p95,
   non-2xx answers, CPU of the server processes and of PostgreSQL per request (from
   /proc), SQL statements per request (pg_stat_statements, BEGIN/COMMIT included), and
   cubebase's req/s as a multiple of Parse's.

The operations: get one record by id; list (`n` in a range of 10,000 out of 1,000,000,
sorted by `n`, 20 records); count with the same range (about 1,000 matches at 100,000
records); create one record; update one record with an increment of `n`.
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARSE_VERSION = "9.10.0"
NPM_PACKAGES = [f"parse-server@{PARSE_VERSION}", "router@2.2.0", "@parse/fs-files-adapter@3.0.0"]
APT_PACKAGES = ["postgresql-15", "postgresql-15-postgis-3", "wrk"]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
SCRATCH = ROOT / "bench" / "out" / "peers"
OPS = ["get", "list", "count", "create", "update"]
N_MAX, RANGE = 1_000_000, 10_000
WORDS = [a + b + c for a in "bcdfghklmnprstvz" for b in "aeiou" for c in "lmnrstx"]
TAGS = [f"tag{i}" for i in range(50)]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(command, *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, timeout=timeout, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- installing -----------------------------------------------------------------------------


def install(scratch: Path) -> Path:
    """apt and npm packages; answers the folder holding parse-server's node_modules."""
    missing = []
    if not (PG_BIN / "postgres").exists():
        missing.append("postgresql-15")
    if not POSTGIS_CONTROL.exists():
        missing.append("postgresql-15-postgis-3")
    if not shutil.which("wrk"):
        missing.append("wrk")
    if not shutil.which("npm"):
        missing += ["nodejs", "npm"]
    if missing:
        if os.geteuid() != 0:
            raise SystemExit(f"install first: sudo apt-get install -y {' '.join(missing)}")
        log(f"apt-get install {' '.join(missing)}")
        run(["apt-get", "update", "-qq"], timeout=600)
        run(["apt-get", "install", "-y", "-qq", *missing], timeout=1200)
    parse_dir = scratch / "parse"
    marker = parse_dir / "node_modules" / "parse-server" / "package.json"
    if not marker.exists() or json.loads(marker.read_text())["version"] != PARSE_VERSION:
        log(f"npm install {' '.join(NPM_PACKAGES)}")
        parse_dir.mkdir(parents=True, exist_ok=True)
        if not (parse_dir / "package.json").exists():
            (parse_dir / "package.json").write_text('{"name": "peers", "private": true}\n')
        run(
            ["npm", "install", "--save-exact", "--no-audit", "--no-fund", *NPM_PACKAGES],
            cwd=parse_dir,
            timeout=1200,
            stdout=subprocess.DEVNULL,
        )
    return parse_dir


# --- processes and their CPU ------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on


def tree_cpu(root_pid: int) -> float:
    """CPU seconds of a process and all its descendants, living or already reaped."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # utime stime cutime cstime: cutime/cstime hold children that have exited.
        total += sum(int(x) for x in fields[11:15])
        todo.extend(children.get(pid, []))
    return total / CLK_TCK


class Process:
    """A child in its own process group, logged to a file, stopped with its group."""

    def __init__(self, name: str, command: list, *, cwd, env=None, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log_file = open(self.log_path, "w")  # closed in stop()
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_http(self, port: int, path: str, *, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise SystemExit(f"{self.name} exited; see {self.log_path}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
            time.sleep(0.3)
        raise SystemExit(f"{self.name} did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self.log_file.close()


# --- PostgreSQL -------------------------------------------------------------------------------


class Postgres:
    """A private PostgreSQL 15 in `workdir`, owned by the `postgres` user when run as root
    (initdb refuses root), listening on a free loopback port."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.pgdata = workdir / "pgdata"
        self.sockets = workdir / "pgrun"
        self.as_user = []
        for path in (self.pgdata, self.sockets):
            path.mkdir(mode=0o700)
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            workdir.chmod(0o755)
            shutil.chown(self.pgdata, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self.started = False

    def start(self) -> None:
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.pgdata), "-A", "trust", "-U", "postgres"]
        run([*self.as_user, *initdb, "-E", "UTF8"], timeout=120, stdout=subprocess.DEVNULL)
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
            "-c max_connections=200 -c shared_preload_libraries=pg_stat_statements "
            "-c pg_stat_statements.max=10000 -c pg_stat_statements.track_utility=on"
        )
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "60"]
        logfile = self.sockets / "postgres.log"
        run([*self.as_user, *pg_ctl, "-l", str(logfile), "-o", options, "start"], timeout=90)
        self.started = True
        self.pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        for name in ("parse", "cube"):
            self.sql("postgres", f"CREATE DATABASE {name}")
            self.sql(name, "CREATE EXTENSION pg_stat_statements")
        self.sql("parse", "CREATE EXTENSION postgis")

    def url(self, database: str, scheme: str = "postgres") -> str:
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, database: str, statement: str) -> str:
        out = run(
            ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", self.url(database)],
            input=statement,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return out.stdout.strip()

    def statements(self, database: str) -> int:
        """Statements sent so far to one database (this query counts itself: one). The
        foreign-key checks PostgreSQL runs inside an INSERT are recorded by
        pg_stat_statements as statements too; they are no round trip and are left out."""
        return int(
            self.sql(
                database,
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d"
                f" ON d.oid = s.dbid WHERE d.datname = '{database}'"
                " AND s.query NOT LIKE '%FOR KEY SHARE OF x'",
            )
        )

    def cpu(self) -> float:
        return tree_cpu(self.pid)

    def stop(self) -> None:
        if self.started:
            pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-t", "60"]
            with contextlib.suppress(subprocess.SubprocessError):
                run([*self.as_user, *pg_ctl, "stop"], timeout=90, stdout=subprocess.DEVNULL)
            self.started = False


# --- the records ------------------------------------------------------------------------------


def record_values(count: int, seed: int = 42):
    rng = random.Random(seed)
    for _ in range(count):
        yield {
            "n": rng.randrange(N_MAX),
            "score": round(rng.random() * 1000, 3),
            "name": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
            "tags": rng.sample(TAGS, 3),
        }


def load_items(count: int, application_name: str) -> tuple[str, list]:
    """On the database Django is set up on, through the project's code: an application, a
    user and its session, the class `item` and `count` records (COPY, like
    bench/records_bench.py), `n` indexed. (the session's token, the records' ids)"""
    from django.db import connection

    from accounts.models import ApiSession, ApiUser, Application
    from classes.services import class_create, field_set_indexed
    from records.ids import new_object_id

    app = Application.objects.create(name=application_name)
    user = ApiUser(application=app, login="bench")
    user.set_password("bench-password-1")
    user.save()
    _, token = ApiSession.open(application=app, user=user)
    fields = [
        {"name": "n", "type": "integer"},
        {"name": "score", "type": "float"},
        {"name": "name", "type": "string"},
        {"name": "tags", "type": "array"},
    ]
    klass = class_create(application=app, name="item", fields=fields)
    columns = (
        "id, application_id, object_class_id, user_id, created_at, updated_at, data,"
        " read_access, read_ids, read_groups, update_access, update_ids, update_groups,"
        " delete_access, delete_ids, delete_groups"
    )
    stamp, ids = int(time.time()), []
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY records_record ({columns}) FROM STDIN") as copy:
            for values in record_values(count):
                ids.append(new_object_id(at=stamp))
                copy.write_row(
                    (ids[-1], app.pk, klass.pk, user.pk, stamp, stamp, json.dumps(values))
                    + ("open", [], [], "owner", [], [], "owner", [], [])
                )
    field_set_indexed(field=klass.fields.get(name="n"), indexed=True)
    return token, ids


class Http:
    """One keep-alive connection for the set-up requests."""

    def __init__(self, port: int, headers: dict):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers

    def call(self, method: str, path: str, body=None, *, expect=(200, 201)) -> dict:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, "Content-Type": "application/json"}
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else {}

    def close(self) -> None:
        self.conn.close()


class Contender:
    """A server under test: how to start it, load it and address it from wrk."""

    name: str
    process: Process
    port: int
    database: str
    headers: dict
    ids: list[str]

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.stop()


class Cube(Contender):
    name, database = "cubebase", "cube"

    def __init__(self, pg: Postgres, workdir: Path, log_dir: Path):
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": pg.url("cube"),
            "DATA_DIR": str(workdir / "cube-data"),
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
        }
        self.pg, self.log_dir = pg, log_dir

    def serve_command(self) -> list:
        """What `make run` serves with: the production server's command line."""
        try:
            from ops.server import command
        except ImportError:  # older trees: gunicorn's threaded workers, as documented then
            gunicorn = str(Path(sys.executable).with_name("gunicorn"))
            return [
                gunicorn,
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={os.cpu_count() or 2}",
                "--worker-class=gthread",
                "--threads=4",
            ]
        return command("127.0.0.1", self.port)

    def load(self, count: int) -> None:
        """Migrate, then the application, the user and its session, the class and records
        (COPY, like bench/records_bench.py), in this process through the project's code."""
        for key in ("DATABASE_URL", "DATA_DIR", "SECRET_KEY"):
            os.environ[key] = self.env[key]
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        self.token, self.ids = load_items(count, "peers")
        connection.close()
        self.headers = {"CB-Token": self.token, "Content-Type": "application/json"}

    def start(self) -> None:
        self.process = Process(
            "cubebase", self.serve_command(), cwd=ROOT, env=self.env, log_dir=self.log_dir
        )
        self.process.wait_http(self.port, "/data/item")

    def request(self, op: str) -> str:
        """The Lua body of wrk's request() for one operation."""
        path = "/data/item"
        where = (
            f'local x = math.random(0, {N_MAX - RANGE}); local q = "n%5Bgte%5D=" .. x .. '
            f'"&n%5Blt%5D=" .. (x + {RANGE})'
        )
        return {
            "get": f'return wrk.format("GET", "{path}/" .. pick())',
            "list": where + f'; return wrk.format("GET", "{path}?" .. q .. "&sort_asc=n&limit=20")',
            "count": where + f'; return wrk.format("GET", "{path}?" .. q .. "&count=1")',
            "create": f'return wrk.format("POST", "{path}", nil, new_record())',
            "update": f'return wrk.format("PUT", "{path}/" .. pick(), nil, \'{{"inc":{{"n":1}}}}\')',
        }[op]


class Parse(Contender):
    database = "parse"

    def __init__(self, pg: Postgres, parse_dir: Path, log_dir: Path, *, cluster: bool = False):
        self.name = "Parse --cluster" if cluster else "Parse"
        self.port, self.pg, self.parse_dir, self.log_dir = free_port(), pg, parse_dir, log_dir
        self.cluster = cluster
        self.master_key = secrets.token_hex(16)
        self.config = {
            "appId": "APP",
            "masterKey": self.master_key,
            "databaseURI": pg.url("parse"),
            "host": "127.0.0.1",
            "port": self.port,
            "mountPath": "/parse",
            "serverURL": f"http://127.0.0.1:{self.port}/parse",
            "filesAdapter": {"module": "@parse/fs-files-adapter"},
            "logsFolder": str(log_dir / f"parse-logs-{self.port}"),
        }

    def start(self) -> None:
        config = self.log_dir / f"parse-{self.port}.json"
        config.write_text(json.dumps(self.config))
        command = ["node", "node_modules/parse-server/bin/parse-server", str(config)]
        if self.cluster:
            command.append("--cluster")
        name = "parse-cluster" if self.cluster else "parse"
        self.process = Process(name, command, cwd=self.parse_dir, log_dir=self.log_dir)
        self.process.wait_http(self.port, "/parse/health")

    def load(self, count: int, *, from_parse: "Parse | None" = None) -> None:
        """The class (with its index on n), a user and its session, then the records through
        /parse/batch (100 a request, two connections). A second Parse server on the same
        database reuses the first one's records and session."""
        if from_parse is not None:
            self.ids, self.token, self.headers = (
                from_parse.ids,
                from_parse.token,
                from_parse.headers,
            )
            return
        base = {"X-Parse-Application-Id": "APP"}
        master = Http(self.port, {**base, "X-Parse-Master-Key": self.master_key})
        master.call(
            "POST",
            "/parse/schemas/item",
            {
                "className": "item",
                "fields": {
                    "n": {"type": "Number"},
                    "score": {"type": "Number"},
                    "name": {"type": "String"},
                    "tags": {"type": "Array"},
                },
                "indexes": {"n_1": {"n": 1}},
            },
        )
        master.close()
        anonymous = Http(self.port, base)
        user = anonymous.call("POST", "/parse/users", {"username": "bench", "password": "pw-1"})
        anonymous.close()
        self.token = user["sessionToken"]
        self.acl = {"*": {"read": True}, user["objectId"]: {"read": True, "write": True}}
        self.headers = {
            **base,
            "X-Parse-Session-Token": self.token,
            "Content-Type": "application/json",
        }
        rows = list(record_values(count))
        batches = [rows[i : i + 100] for i in range(0, len(rows), 100)]
        ids: list[list[str]] = [[] for _ in batches]
        errors = []

        def worker(k: int) -> None:
            client = Http(self.port, self.headers)
            try:
                for index in range(k, len(batches), 2):
                    requests = [
                        {
                            "method": "POST",
                            "path": "/parse/classes/item",
                            "body": {**row, "ACL": self.acl},
                        }
                        for row in batches[index]
                    ]
                    answer = client.call("POST", "/parse/batch", {"requests": requests})
                    ids[index] = [item["success"]["objectId"] for item in answer]
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
            finally:
                client.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=1800)
        if errors or any(t.is_alive() for t in threads):
            raise SystemExit(f"loading Parse failed: {errors[:1]}")
        self.ids = [i for chunk in ids for i in chunk]

    def request(self, op: str) -> str:
        path = "/parse/classes/item"
        where = (
            f'local x = math.random(0, {N_MAX - RANGE}); local q = "where=" .. urlencode('
            f"'{{\"n\":{{\"$gte\":' .. x .. ',\"$lt\":' .. (x + {RANGE}) .. '}}}}')"
        )
        acl = json.dumps(self.acl).replace("\\", "\\\\").replace('"', '\\"')
        increment = '{"n":{"__op":"Increment","amount":1}}'
        return {
            "get": f'return wrk.format("GET", "{path}/" .. pick())',
            "list": where + f'; return wrk.format("GET", "{path}?" .. q .. "&order=n&limit=20")',
            "count": where + f'; return wrk.format("GET", "{path}?" .. q .. "&count=1&limit=0")',
            "create": (f'return wrk.format("POST", "{path}", nil, new_record(\', "ACL": {acl}\'))'),
            "update": f'return wrk.format("PUT", "{path}/" .. pick(), nil, \'{increment}\')',
        }[op]


# --- wrk --------------------------------------------------------------------------------------

LUA_COMMON = r"""
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local words = {%(words)s}
local tags = {%(tags)s}
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + (index or 0))
end

function pick() return ids[math.random(#ids)] end

function urlencode(s)
  return (s:gsub("[^%%w%%-%%._~]", function(c) return string.format("%%%%%%02X", string.byte(c)) end))
end

function new_record(extra)
  local t1, t2, t3 = tags[math.random(#tags)], tags[math.random(#tags)], tags[math.random(#tags)]
  return '{"n":' .. math.random(0, %(n_max)d - 1) .. ',"score":' .. string.format("%%.3f", math.random() * 1000)
    .. ',"name":"' .. words[math.random(#words)] .. ' ' .. words[math.random(#words)]
    .. '","tags":["' .. t1 .. '","' .. t2 .. '","' .. t3 .. '"]' .. (extra or '') .. '}'
end

wrk.headers = {%(headers)s}

function request()
  %(request)s
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%f, "p50": %%f, "p95": %%f, '
    .. '"non2xx": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_script(workdir: Path, contender: Contender, op: str) -> Path:
    ids = workdir / f"ids-{contender.port}.txt"
    if not ids.exists():
        ids.write_text("\n".join(contender.ids) + "\n")
    headers = ", ".join(
        f"[{lua_string(k)}] = {lua_string(v)}" for k, v in contender.headers.items()
    )
    script = LUA_COMMON % {
        "ids": ids,
        "words": ", ".join(lua_string(w) for w in WORDS[:200]),
        "tags": ", ".join(lua_string(t) for t in TAGS),
        "n_max": N_MAX,
        "headers": headers,
        "request": contender.request(op),
    }
    path = workdir / f"wrk-{contender.port}-{op}.lua"
    path.write_text(script)
    return path


def drive(pg: Postgres, contender: Contender, script: Path, connections: int, seconds: float):
    """One wrk run with the CPU and statement counters read around it."""
    threads = min(2, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout=10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{contender.port}",
    ]
    statements0 = pg.statements(contender.database)
    server0, pg0 = contender.cpu(), pg.cpu()
    out = run(command, capture_output=True, text=True, timeout=seconds + 60)
    server1, pg1 = contender.cpu(), pg.cpu()
    statements1 = pg.statements(contender.database)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    result = json.loads(line[len("RESULT ") :])
    requests = max(1, result["requests"])
    result["rps"] = result["requests"] / result["seconds"]
    result["server_ms"] = (server1 - server0) * 1000 / requests
    result["pg_ms"] = (pg1 - pg0) * 1000 / requests
    result["sql"] = (statements1 - statements0 - 1) / requests  # less the counter's own query
    return result


# --- the run ----------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.0f} GB, Linux {os.uname().release},"
        f" Python {sys.version.split()[0]}, node {node}, PostgreSQL 15 (Debian), wrk"
    )


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def print_table(args, contenders, results) -> None:
    base = contenders[1].name
    print(
        f"\npeers benchmark: {args.records:,} records, {args.rounds} rounds of {args.seconds:g} s,"
    )
    print(f"medians; {machine()}; load average now", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    header = (
        f"{'operation':<8} {'conn':>4} {'server':<16} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'non2xx':>6} {'cpu ms/req':>10} {'pg ms/req':>9} {'sql/req':>7} {'x ' + base:>9}"
    )
    print(header)
    print("-" * len(header))
    for connections in args.connections:
        for op in args.ops:
            base_rps = median(results[(base, op, connections)], "rps")
            for contender in contenders:
                runs = results[(contender.name, op, connections)]
                rps = median(runs, "rps")
                ratio = "" if contender.name == base else f"{rps / base_rps:.2f}"
                print(
                    f"{op:<8} {connections:>4} {contender.name:<16} {rps:>7.0f}"
                    f" {median(runs, 'p50'):>7.2f} {median(runs, 'p95'):>7.2f}"
                    f" {sum(r['non2xx'] + r['socket_errors'] for r in runs):>6}"
                    f" {median(runs, 'server_ms'):>10.2f} {median(runs, 'pg_ms'):>9.2f}"
                    f" {median(runs, 'sql'):>7.2f} {ratio:>9}"
                )
    print("-" * len(header))
    print("cpu ms/req: the server's processes (all workers); pg: every PostgreSQL process;")
    print("sql/req: statements in the server's database (pg_stat_statements, BEGIN/COMMIT too)")


def benchmark(args, workdir: Path, log_dir: Path, stack: contextlib.ExitStack) -> None:
    parse_dir = install(SCRATCH)
    pg = Postgres(workdir)
    stack.callback(pg.stop)
    log(f"PostgreSQL 15 on port {pg.port}")
    pg.start()
    cube = Cube(pg, workdir, log_dir)
    parse = Parse(pg, parse_dir, log_dir)
    contenders = [cube, parse]
    parse.start()
    stack.callback(parse.stop)
    log(f"Parse Server on port {parse.port}; loading {args.records:,} records")
    began = time.monotonic()
    parse.load(args.records)
    log(f"  loaded in {time.monotonic() - began:.0f} s")
    log(f"cubebase: migrating and loading {args.records:,} records")
    cube.load(args.records)
    if args.parse_cluster:
        clustered = Parse(pg, parse_dir, log_dir, cluster=True)
        clustered.master_key = parse.master_key
        clustered.config["masterKey"] = parse.master_key
        clustered.acl = parse.acl
        clustered.start()
        stack.callback(clustered.stop)
        clustered.load(0, from_parse=parse)
        contenders.append(clustered)
    for database in ("parse", "cube"):
        pg.sql(database, "VACUUM ANALYZE")
    cube.start()
    stack.callback(cube.stop)
    log(
        f"cubebase on port {cube.port} ({' '.join(Path(x).name for x in cube.serve_command()[:2])})"
    )

    scripts = {(c.name, op): write_script(workdir, c, op) for c in contenders for op in args.ops}
    log("warming up")
    for contender in contenders:
        for op in args.ops:
            drive(pg, contender, scripts[(contender.name, op)], 8, 2)
    results: dict = {}
    for round_ in range(args.rounds):
        order = contenders if round_ % 2 == 0 else contenders[::-1]
        log(f"round {round_ + 1} of {args.rounds}: {', '.join(c.name for c in order)}")
        for connections in args.connections:
            for op in args.ops:
                for contender in order:
                    result = drive(
                        pg, contender, scripts[(contender.name, op)], connections, args.seconds
                    )
                    results.setdefault((contender.name, op, connections), []).append(result)
    print_table(args, contenders, results)
    if args.show_sql:
        for database in ("cube", "parse"):
            print(f"\nmost frequent statements in {database} (calls, mean ms executing):")
            print(
                pg.sql(
                    database,
                    "SELECT lpad(calls::text, 9) || lpad(round(mean_exec_time::numeric, 3)::text,"
                    " 8) || '  ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 150)"
                    " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                    f" WHERE d.datname = '{database}' ORDER BY calls DESC LIMIT 12",
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--parse-cluster", action="store_true", help="add Parse --cluster")
    parser.add_argument(
        "--show-sql", action="store_true", help="the most frequent statements, their mean time"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    args.ops = [op for op in args.ops.split(",") if op]
    if set(args.ops) - set(OPS) or args.rounds < 1 or args.records < 1000:
        parser.error(f"--ops among {','.join(OPS)}; --rounds >= 1; --records >= 1000")

    workdir = Path(tempfile.mkdtemp(prefix="cubebase-peers-"))
    log_dir = workdir / "logs"
    log_dir.mkdir()
    # SIGTERM (a CI timeout, kill) ends the run through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with contextlib.ExitStack() as stack:
            benchmark(args, workdir, log_dir, stack)
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
