"""The bench's measuring parts against a toy app on 127.0.0.1: the stubs' timestamps, the critical path of a call,
what is left for after the answer, new connections, the provider stub, the baselines and the report's files.
No wrk, no gunicorn: a few hundred milliseconds in all."""

from __future__ import annotations

import json
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

from bench import latency, report, run
from bench.bare_app import JWT_HEADER, create_bare_app, create_least_correct_app
from bench.servers import free_port
from bench.stubs import REFRESH, TOKEN_PATH, ProviderStub, StubServer
from bench.workload import APP_SECRET, CLIENT_ID, CLIENT_SECRET, Call, Workload

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


def operation(path: str, target: int, **kwargs: object) -> latency.Operation:
    return latency.Operation(path, "toy", lambda: Call(path, "{}", {"Content-Type": "application/json"}), "==", target, **kwargs)  # type: ignore[arg-type]


def test_a_call_counts_its_sequential_round_trips_and_leaves_the_background_request_off_the_wait(toy_app, stub):
    measured = latency.measure(operation("/op", 2, needs=("GET /d",)), toy_app, [stub], quiet=3 * DELAY)

    assert measured.problems == []
    assert measured.sequential == 2
    assert measured.chain[0].kind == "GET /a"
    assert sorted(r.kind for r in measured.on_the_wait) == ["GET /a", "GET /b", "GET /c"]
    assert [r.kind for r in measured.not_waited_on] == ["GET /d"]
    assert measured.new_connection_count == 0  # the warm-up call opened the two pooled connections
    assert 2 * DELAY * 1000 <= measured.wait_ms < 3 * DELAY * 1000 + 50
    for r in measured.on_the_wait:
        assert r.end - r.start >= DELAY


def test_new_connections_after_the_warm_up_are_counted(toy_app, stub):
    measured = latency.measure(operation("/op-new-connections", 2), toy_app, [stub], quiet=3 * DELAY)

    assert measured.sequential == 2
    assert measured.new_connections == {"upstream": 2}


def test_an_operation_that_skips_its_work_or_answers_wrongly_is_reported(toy_app, stub):
    skipped = latency.measure(operation("/op-new-connections", 2, needs=("GET /d",)), toy_app, [stub], quiet=3 * DELAY)
    wrong = latency.measure(
        operation("/op", 2, check=lambda answer: "" if answer.get("text") == "other" else "the wrong text"),
        toy_app,
        [stub],
        quiet=3 * DELAY,
    )

    assert skipped.problems == ["made no GET /d request"]
    assert wrong.problems == ["answered the wrong text"]


def test_the_provider_stub_sends_an_id_token_and_rotates_refresh_tokens_only_when_told():
    google_like = ProviderStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rotate=False).start()
    rotating = ProviderStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, rotate=True).start()
    try:

        def refresh(stub: ProviderStub, token: str) -> requests.Response:
            form = {"grant_type": "refresh_token", "refresh_token": token}
            return requests.post(stub.url + TOKEN_PATH, data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5)

        exchange = requests.post(
            google_like.url + TOKEN_PATH,
            data={"grant_type": "authorization_code", "code": "c", "code_verifier": "v", "client_id": CLIENT_ID},
            timeout=5,
        ).json()
        claims = jwt.decode(exchange["id_token"], options={"verify_signature": False})
        assert claims["iss"] == google_like.url == google_like.issuer
        assert claims["aud"] == CLIENT_ID
        assert claims["exp"] > time.time() + 3000
        assert {"sub", "email", "name"} <= claims.keys()

        assert "refresh_token" not in refresh(google_like, "1//kept").json()
        assert refresh(google_like, "1//kept").status_code == 200  # Google's stays valid

        rotated = refresh(rotating, "1//first").json()["refresh_token"]
        assert rotated == rotating.last_refresh_token != "1//first"
        assert refresh(rotating, "1//first").json() == {"error": "invalid_grant"}  # a replay ends the grant
        assert refresh(rotating, rotated).status_code == 200

        google_like.id_token = False
        assert "id_token" not in refresh(google_like, "1//kept").json()
        assert [r.kind for r in rotating.log.requests_since(0)].count(REFRESH) == 3
    finally:
        google_like.stop()
        rotating.stop()


def test_the_least_correct_handler_verifies_the_jwt_and_answers_the_apps_bytes():
    work = Workload(app_url="http://127.0.0.1:8080", mattermost_url="http://127.0.0.1:9")
    call = work.bindings()
    body = json.dumps({"type": "ok", "data": [{"location": "/command"}]}, separators=(",", ":"))
    bodies = {"POST /bindings": body}
    least_app = create_least_correct_app(bodies, APP_SECRET)
    least_app.testing = True  # a refusal raises here; under gunicorn it is a 500, which wrk counts as an error
    least, bare = least_app.test_client(), create_bare_app(bodies).test_client()

    answered = least.post("/bindings", data=call.body, headers=call.headers)
    assert answered.status_code == 200
    assert answered.data == bare.post("/bindings", data=call.body, headers=call.headers).data
    assert json.loads(answered.data) == json.loads(body)

    forged = {**call.headers, JWT_HEADER: "Bearer " + jwt.encode({"exp": int(time.time()) + 60}, "not-the-secret" * 3)}
    expired = {**call.headers, JWT_HEADER: "Bearer " + jwt.encode({"exp": int(time.time()) - 60}, APP_SECRET)}
    for headers in (forged, expired):
        with pytest.raises(jwt.PyJWTError):
            least.post("/bindings", data=call.body, headers=headers)
    with pytest.raises(json.JSONDecodeError):
        least.post("/bindings", data="not json", headers=call.headers)


def test_make_bench_leaves_the_docs_alone_and_bench_docs_refreshes_only_the_marked_section(tmp_path: Path):
    assert run.parse_args([]).docs is False
    assert run.parse_args(["--docs"]).docs is True

    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nBy hand.\n\n{report.BEGIN}\nold run\n{report.END}\n\nAlso by hand.\n", encoding="utf-8")
    report.refresh_doc("new run", doc)
    assert doc.read_text(encoding="utf-8") == (
        f"# Performance\n\nBy hand.\n\n{report.BEGIN}\nnew run\n{report.END}\n\nAlso by hand.\n"
    )

    written = report.write_artifacts("20300101T000000Z", "the report", {"passed": False}, tmp_path / "artifacts")
    assert written.read_text(encoding="utf-8") == "the report\n"
    assert json.loads(written.with_suffix(".json").read_text(encoding="utf-8")) == {"passed": False}


def test_an_app_that_does_not_answer_is_reported_and_the_bench_goes_on(stub):
    nothing_there = f"http://127.0.0.1:{free_port()}"

    measured = latency.measure(operation("/op", 0), nothing_there, [stub], quiet=DELAY)

    assert measured.problems == ["got no answer (ConnectionRefusedError)"]
