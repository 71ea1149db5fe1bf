"""The bench's measuring parts against a toy app on 127.0.0.1: the stubs' timestamps, the critical path of a call,
what is left for after the answer, new connections, the provider stub, the docs page, and what the bench may
import. No gunicorn: a few hundred milliseconds in all."""

from __future__ import annotations

import ast
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask, Response, jsonify
from werkzeug.serving import make_server

from bench import latency, run
from bench.operations import CLIENT_ID
from bench.stubs import REFRESH, TOKEN_PATH, ProviderStub, StubServer

REPO = Path(__file__).resolve().parents[2]

DELAY = 0.02


def ok_route(_request: object) -> tuple[int, object]:
    return 200, {"ok": True}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer("upstream", {("GET", p): ok_route for p in ("/a", "/b", "/c", "/d")}, delay=DELAY).start()
    yield server
    server.stop()


@pytest.fixture
def toy_app(stub: StubServer) -> Iterator[str]:
    """`/op`: a, then b and c in parallel, then the answer, then d once the answer is out (pooled connections).
    `/op-new-connections`: a then b, each on a new connection."""
    session = requests.Session()
    app = Flask("toy")

    @app.post("/op")
    def op() -> Response:
        session.get(stub.url + "/a", timeout=5)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda path: session.get(stub.url + path, timeout=5), ["/b", "/c"]))
        response = jsonify({"type": "ok", "text": "done"})
        response.call_on_close(lambda: session.get(stub.url + "/d", timeout=5))
        return response

    @app.post("/op-new-connections")
    def op_new_connections() -> Response:
        for path in ("/a", "/b"):
            requests.get(stub.url + path, timeout=5)
        return jsonify({"type": "ok"})

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=0.05), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    session.close()


def operation(url: str, target: int, **kwargs: object) -> latency.Operation:
    call = latency.Call(url, "{}", {"Content-Type": "application/json"})
    return latency.Operation(url, lambda: call, "==", target, **kwargs)  # type: ignore[arg-type]


def test_a_call_counts_its_sequential_round_trips_and_leaves_the_background_request_off_the_wait(toy_app, stub):
    measured = latency.measure(operation(toy_app + "/op", 2, needs=("GET /d",)), [stub], quiet=3 * DELAY)

    assert measured.problems == []
    assert len(measured.chain) == 2
    assert measured.chain[0].kind == "GET /a"
    assert sorted(r.kind for r in measured.split.on_the_wait) == ["GET /a", "GET /b", "GET /c"]
    assert [r.kind for r in measured.not_waited_on] == ["GET /d"]
    assert measured.new_connections == {"upstream": 0}  # the warm-up call opened the two pooled connections
    assert 2 * DELAY * 1000 <= measured.wait_ms < 3 * DELAY * 1000 + 50
    for r in measured.split.on_the_wait:
        assert r.end - r.start >= DELAY


def test_new_connections_after_the_warm_up_are_counted(toy_app, stub):
    measured = latency.measure(operation(toy_app + "/op-new-connections", 2), [stub], quiet=3 * DELAY)

    assert len(measured.chain) == 2
    assert measured.new_connections == {"upstream": 2}


def test_an_operation_that_skips_its_work_or_answers_wrongly_is_reported(toy_app, stub):
    skipped = latency.measure(operation(toy_app + "/op-new-connections", 2, needs=("GET /d",)), [stub], quiet=3 * DELAY)
    check = lambda answer: "" if answer.get("text") == "other" else "the wrong text"  # noqa: E731
    wrong = latency.measure(operation(toy_app + "/op", 2, check=check), [stub], quiet=3 * DELAY)

    assert skipped.problems == ["made no GET /d request"]
    assert wrong.problems == ["answered the wrong text"]


def test_the_provider_stub_is_oidc_or_plain_oauth2_and_makes_tokens_stale_when_told():
    oidc = ProviderStub(client_id=CLIENT_ID, plain=False).start()
    plain = ProviderStub(client_id=CLIENT_ID, plain=True).start()
    try:

        def token(stub: ProviderStub, **form: str) -> dict[str, object]:
            return requests.post(stub.url + TOKEN_PATH, data=form, auth=(CLIENT_ID, "secret"), timeout=5).json()

        exchange = token(oidc, grant_type="authorization_code", code="c", code_verifier="v")
        claims = jwt.decode(str(exchange["id_token"]), options={"verify_signature": False})
        assert claims["iss"] == oidc.url
        assert claims["aud"] == CLIENT_ID
        assert claims["exp"] > time.time() + 3000
        assert {"sub", "email", "name"} <= claims.keys()
        assert exchange["expires_in"] == 3599

        assert "refresh_token" not in token(oidc, grant_type="refresh_token", refresh_token="1//kept")
        assert "access_token" in token(oidc, grant_type="refresh_token", refresh_token="1//kept")  # it stays valid: no rotation

        plain.expires_in = 30
        rotated = token(plain, grant_type="refresh_token", refresh_token="1//first")
        assert "id_token" not in rotated and rotated["expires_in"] == 30
        assert token(plain, grant_type="refresh_token", refresh_token="1//first") == {"error": "invalid_grant"}  # a replay
        assert "access_token" in token(plain, grant_type="refresh_token", refresh_token=str(rotated["refresh_token"]))
        assert [r.kind for r in plain.requests_since(0)].count(REFRESH) == 3
    finally:
        oidc.stop()
        plain.stop()


def test_make_bench_leaves_the_docs_alone_and_bench_docs_refreshes_only_the_marked_section(tmp_path: Path):
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nBy hand.\n\n{run.BEGIN}\nold run\n{run.END}\n\nAlso by hand.\n", encoding="utf-8")
    run.refresh_doc("new run", doc)
    assert doc.read_text(encoding="utf-8") == f"# Performance\n\nBy hand.\n\n{run.BEGIN}\nnew run\n{run.END}\n\nAlso by hand.\n"

    tracked = (REPO / "docs" / "performance.md").read_text(encoding="utf-8")
    assert tracked.count(run.BEGIN) == tracked.count(run.END) == 1
    with pytest.raises(SystemExit):
        run.main(["--doc"])  # a typo is refused before anything runs or is written


def test_an_app_that_does_not_answer_is_reported_and_the_bench_goes_on(stub):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nothing_there = f"http://127.0.0.1:{sock.getsockname()[1]}"

    measured = latency.measure(operation(nothing_there + "/op", 0), [stub], quiet=DELAY)

    assert measured.problems == ["got no answer (ConnectionRefusedError)"]


def test_the_bench_drives_the_app_only_through_its_public_surface():
    """No module of the app is imported: only the Apps SDK and its testing kit, the standard library and packages."""
    app_modules = {path.stem for path in REPO.glob("*.py")} | {path.parent.name for path in REPO.glob("*/__init__.py")}
    allowed = {"bench"}
    imported = set()
    for path in (REPO / "bench").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module)

    private = {name for name in imported if name.split(".")[0] in app_modules and name not in allowed}
    assert {"handlers", "user_tokens", "bench"} <= app_modules  # the scan sees the repository's packages
    assert private == set()
