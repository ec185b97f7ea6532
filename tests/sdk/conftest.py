"""Run the official ConnectyCube JavaScript SDK (npm `connectycube`, pinned in
tests/sdk/package.json) with node against pytest-django's live server.

A test hands `run_sdk` the body of an async JS function; inside it `CB` is the initialised
SDK and `env` the values the test passed. Whatever the function returns is printed as JSON
and handed back to the test. An exception in the script fails the test with its message.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parent
NODE_MODULES = SDK_DIR / "node_modules"

PRELUDE = """
// The CommonJS build exports the SDK instance as `default`.
const CB = require("connectycube").default;
const env = JSON.parse(process.env.SDK_ENV);
CB.init({appId: env.appId, authKey: env.authKey},
        {endpoints: {api_url: env.apiUrl}, debug: {mode: 0}});
const errText = (e) => JSON.stringify(e && (e.info || e.message || e));
(async () => {
%s
})().then(
  (result) => { process.stdout.write("\\n@@RESULT@@" + JSON.stringify(result === undefined ? null : result)); process.exit(0); },
  (error) => { process.stdout.write("\\n@@ERROR@@" + JSON.stringify({code: error && error.code, info: error && (error.info || error.message || String(error))})); process.exit(1); },
);
"""


@pytest.fixture
def run_sdk(live_server, application, tmp_path):
    if shutil.which("node") is None or not (NODE_MODULES / "connectycube").exists():
        pytest.fail("node and tests/sdk/node_modules are required: run `make sdk`")

    def run(body: str, timeout: float = 60, **values):
        env = {
            "appId": application.pk,
            "authKey": application.auth_key,
            "apiUrl": live_server.url,
            **values,
        }
        script = tmp_path / "script.cjs"
        script.write_text(PRELUDE % body)
        proc = subprocess.run(
            ["node", str(script)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=SDK_DIR,
            env={**os.environ, "SDK_ENV": json.dumps(env), "NODE_PATH": str(NODE_MODULES)},
        )
        out = proc.stdout
        if "@@RESULT@@" in out:
            return json.loads(out.rsplit("@@RESULT@@", 1)[1])
        detail = out.rsplit("@@ERROR@@", 1)[1] if "@@ERROR@@" in out else out
        pytest.fail(f"SDK script failed: {detail}\nstderr: {proc.stderr[-2000:]}")

    return run
