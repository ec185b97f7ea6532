"""Schemathesis against a real server (tests/servers.py) over the test database.

Before the run: an application, a user session, a class `thing` with one field of every
type, records (one a child of another), and a completed blob, so generated requests reach
past "not found" into validation and the query language. The server's own OpenAPI schema
is used, with the `thing` class's fields written into the record bodies and filters
(records/openapi.py), and path parameters pinned to the objects made here.

Checks: no 5xx, every answer matches the schema (status and body), no answer slower than
2 s. FUZZ_EXAMPLES sets the cases per operation: a few in the suite, many more with
`make fuzz` (which also sets FUZZ_REPORT to print the figures).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_user, token_for
from tests.hostile.live import Live

from .setup import fuzz_world, specialised_schema

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
TIME_LIMIT = int(os.environ.get("FUZZ_TIME_LIMIT", "420"))
ST = Path(sys.executable).with_name("st")
# FUZZ_CHECKS may name others, e.g. positive_data_acceptance,negative_data_rejection
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
# Operations that would end the fuzzer's own session or user, after which every other
# request is a 401 and reaches nothing.
EXCLUDED = [
    ("DELETE", "/session"),
    ("DELETE", "/login"),
    ("POST", "/login"),
    ("DELETE", "/users/{user_id}"),
    ("PUT", "/users/{user_id}"),
    ("DELETE", "/users/external/{external_id}"),
]


@pytest.mark.fuzz
def test_no_request_breaks_the_server(app_servers, application, tmp_path):
    (server,) = app_servers.start(n=1, workers=2)
    user = make_user(application, "fuzzer")
    token = token_for(application, user)
    world = fuzz_world(application, user)
    schema_path = tmp_path / "openapi.json"
    schema = specialised_schema(world)
    schema_path.write_text(json.dumps(schema))
    (tmp_path / "schemathesis.toml").write_text(_config(world))
    report = tmp_path / "report.ndjson"
    assert Live(server.url, token).get("/session")[0] == 200
    command = [
        str(ST),
        "run",
        str(schema_path),
        "--url",
        server.url,
        "--checks",
        os.environ.get("FUZZ_CHECKS", CHECKS),
        "--max-response-time",
        "2",
        "--max-examples",
        str(EXAMPLES),
        # One worker: with several, schemathesis' threads sometimes hit a CPython 3.11 bug
        # in ast.parse ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--seed",
        os.environ.get("FUZZ_SEED", "1"),
        "--no-shrink",
        "--generation-database",
        "none",
        "--header",
        f"CB-Token: {token}",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
        *_exclusions(schema),
        # The CB-Token above is the session; generated tokens would only test 401s.
        "--generation-with-security-parameters",
        "false",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=TIME_LIMIT
    )
    figures = _figures(report)
    figures["session_alive_after"] = Live(server.url, token).get("/session")[0] == 200
    if os.environ.get("FUZZ_REPORT"):
        print(result.stdout[-6000:])
        print("FUZZ FIGURES", json.dumps(figures))
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert figures["cases"] > 0
    assert figures["session_alive_after"], "an operation ended the fuzzer's session"


def _exclusions(schema: dict) -> list[str]:
    """Excluded by operation id: removed from the schema instead, they would be probed as
    undocumented methods, and DELETE /session would still run."""
    out = []
    for method, path in EXCLUDED:
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            out += ["--exclude-operation-id", operation["operationId"]]
    return out


def _config(world) -> str:
    lines = ["[parameters]"]
    for name, value in world.path_parameters().items():
        lines.append(f'"path.{name}" = {json.dumps(value)}')
    return "\n".join(lines) + "\n"


def _figures(report: Path) -> dict:
    """Cases run and failures by check, from schemathesis' ndjson event log."""
    cases = 0
    failures: dict[str, int] = {}
    statuses: dict[str, int] = {}
    if not report.exists():
        return {"cases": 0, "failures": failures}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for kind, body in event.items():
            if kind != "ScenarioFinished":
                continue
            recorder = body.get("recorder", {})
            cases += len(recorder.get("cases", {}))
            for interaction in recorder.get("interactions", {}).values():
                status = (interaction.get("response") or {}).get("status_code")
                family = f"{status // 100}xx" if status else "no answer"
                statuses[family] = statuses.get(family, 0) + 1
            for checks in recorder.get("checks", {}).values():
                for check in checks:
                    if str(check.get("status", "")).upper() == "FAILURE":
                        name = check.get("name", "?")
                        failures[name] = failures.get(name, 0) + 1
    return {"cases": cases, "failures": failures, "answers": statuses}
