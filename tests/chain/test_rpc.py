"""The JSON-RPC client (http.client, one keep-alive connection): replies in request order, and
transport failures as one-line errors (refused bodies, replies that are not JSON-RPC, nothing
listening, no answer in time, a URL that is not HTTP)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from simulator.chain.node import free_port
from simulator.chain.rpc import RpcClient
from simulator.errors import RpcError, RpcUnreachable


@pytest.fixture()
def server():
    """An HTTP server answering every POST with the (status, content type, body) it is told."""
    reply = {"value": (200, "application/json", b"{}")}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            status, ctype, body = reply["value"]
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", reply
    httpd.shutdown()


def test_a_refused_body_is_one_line(server):
    url, reply = server
    reply["value"] = (413, "text/plain", b"Payload Too Large")
    with pytest.raises(RpcUnreachable, match=r"refused the request \(HTTP 413\)"):
        RpcClient(url).batch_raw([("eth_chainId", [])])


def test_a_reply_that_is_not_json_is_not_a_node(server):
    url, reply = server
    reply["value"] = (200, "text/html", b"<html>hello</html>")
    with pytest.raises(RpcUnreachable, match="is not a JSON-RPC node"):
        RpcClient(url).request("eth_chainId")


def test_a_batch_answered_with_one_error_object_raises_that_error(server):
    url, reply = server
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid request"}}
    reply["value"] = (200, "application/json", json.dumps(error).encode())
    with pytest.raises(RpcError, match="Invalid request"):
        RpcClient(url).batch_raw([("eth_chainId", []), ("eth_blockNumber", [])])


def test_nothing_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RpcUnreachable, match="cannot reach RPC"):
        RpcClient(url, timeout_s=5).request("eth_chainId")


def test_batch_replies_come_back_in_request_order(chain):
    """Against a real node (either backend's fixture starts anvil only for anvil)."""
    if chain.backend != "anvil":
        pytest.skip("the JSON-RPC client talks to anvil")
    requests_ = [("eth_getBalance", [f"0x{i:040x}", "latest"]) for i in range(50)]
    requests_ += [("eth_chainId", []), ("no_such_method", [])]
    replies = chain.rpc.batch_raw(requests_)
    assert len(replies) == 52 and replies[50]["result"] == "0x7a69"
    assert "error" in replies[51]


def test_a_url_that_is_not_http_is_one_line():
    with pytest.raises(RpcUnreachable, match=r"invalid RPC URL 'ftp://x:1': expected http://host:port"):  # fmt: skip
        RpcClient("ftp://x:1")


def test_a_node_that_closes_every_connection_is_reached_again_on_a_new_one(server):
    """The test server speaks HTTP/1.0 and closes after each reply: every request after the
    first finds the previous connection closed and opens a new one (replies stay correct)."""
    url, reply = server
    reply["value"] = (200, "application/json", b'{"jsonrpc":"2.0","id":0,"result":"0x1"}')
    client = RpcClient(url)
    assert [client.request("eth_chainId") for _ in range(3)] == ["0x1"] * 3


def test_replies_out_of_order_are_put_back_in_request_order(server):
    url, reply = server
    client = RpcClient(url)
    client._next_id = 10  # the batch's ids are 10 and 11; the node answers 11 first
    body = [
        {"jsonrpc": "2.0", "id": 11, "result": "b"},
        {"jsonrpc": "2.0", "id": 10, "result": "a"},
    ]
    reply["value"] = (200, "application/json", json.dumps(body).encode())
    assert client.batch([("m1", []), ("m2", [])]) == ["a", "b"]


def test_a_node_that_does_not_answer_in_time_is_one_line():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(RpcUnreachable, match=r"did not answer within 0.5 s"):
            RpcClient(url, timeout_s=0.5).request("eth_chainId")
    finally:
        listener.close()


def test_a_batch_larger_than_one_body_goes_in_several_round_trips(chain, monkeypatch):
    """At most ``MAX_BODY_BYTES`` per HTTP body: the replies still come back in request order."""
    if chain.backend != "anvil":
        pytest.skip("the JSON-RPC client talks to anvil")
    import simulator.chain.rpc as rpc

    monkeypatch.setattr(rpc, "MAX_BODY_BYTES", 300)
    requests_ = [("eth_getBalance", [f"0x{i:040x}", "latest"]) for i in range(12)]
    sent = []
    post = chain.rpc._post
    monkeypatch.setattr(chain.rpc, "_post", lambda body: sent.append(len(body)) or post(body))
    replies = chain.rpc.batch_raw(requests_ + [("eth_chainId", [])])
    assert len(sent) > 3 and max(sent) <= 300 + 200  # a body may exceed only by one request
    assert replies[-1]["result"] == "0x7a69" and all("result" in r for r in replies)
