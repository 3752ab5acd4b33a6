"""The JSON-RPC client on web3's HTTPProvider: replies in request order, and transport failures
as one-line errors (refused bodies, replies that are not JSON-RPC, nothing listening)."""

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
