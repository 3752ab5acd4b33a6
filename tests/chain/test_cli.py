"""``perpsim deploy`` / ``perpsim bench chain`` and their bad-input paths (exit 2, one line)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from simulator.chain import AnvilNode, open_chain
from simulator.chain.artifacts import load_artifacts
from simulator.chain.node import free_port
from simulator.chain.rpc import RpcClient
from simulator.protocol.venue_contracts import PerpVenue, symbol_str
from simulator.protocol.venue_params import preset_symbols


def run(cmd: list[str], **env) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_deploy_json_prints_addresses_of_an_embedded_chain(perpsim_cmd):
    proc = run([perpsim_cmd, "deploy", "--json"])
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["embedded"] is True and info["chain_id"] == 31337
    assert info["contracts"]["collateral"].startswith("0x")
    # the node is gone: no URL that would point at nothing (or at someone else's node later)
    assert info["rpc"] is None
    assert "stopped" in info["note"] and "--keep-node" in info["note"]


def _wait_gone(pid: int, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_deploy_keep_node_leaves_the_embedded_anvil_running_with_the_contracts(perpsim_cmd):
    proc = run([perpsim_cmd, "deploy", "--json", "--keep-node"])
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    pid = info["pid"]
    try:
        assert info["embedded"] is True and info["rpc"].startswith("http://127.0.0.1:")
        assert f"kill {pid}" in info["note"]
        # perpsim has exited; the node answers and holds the venue
        client = RpcClient(info["rpc"], timeout_s=10)
        code = client.request("eth_getCode", [info["contracts"]["venue"], "latest"])
        client.close()
        assert len(code) > 2
    finally:
        os.kill(pid, signal.SIGTERM)
        assert _wait_gone(pid)


def test_deploy_to_an_existing_node_leaves_the_contract_there(perpsim_cmd):
    with AnvilNode() as node:
        proc = run([perpsim_cmd, "deploy", "--json", "--rpc", node.url])
        assert proc.returncode == 0, proc.stderr
        address = json.loads(proc.stdout)["contracts"]["collateral"]
        assert node.rpc.request("eth_getCode", [address, "latest"]) != "0x"


@pytest.fixture()
def closed_port() -> int:
    return free_port()


@pytest.fixture()
def html_server():
    """An HTTP server that is not a JSON-RPC node."""

    class Page(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_unreachable_rpc(perpsim_cmd, closed_port):
    url = f"http://127.0.0.1:{closed_port}"
    assert_one_line_error(run([perpsim_cmd, "deploy", "--rpc", url]), url, "cannot reach")


def test_fork_url_that_is_not_a_node(perpsim_cmd, html_server):
    proc = run([perpsim_cmd, "deploy", "--fork-url", html_server])
    assert_one_line_error(proc, html_server, "not a JSON-RPC node")


def test_fork_url_that_does_not_answer(perpsim_cmd, closed_port):
    proc = run([perpsim_cmd, "deploy", "--fork-url", f"http://127.0.0.1:{closed_port}"])
    assert_one_line_error(proc, "fork URL", "cannot reach")


def test_port_in_use(perpsim_cmd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert_one_line_error(
            run([perpsim_cmd, "deploy", "--port", str(port)]), f"port {port}", "in use"
        )


def test_missing_anvil(perpsim_cmd):
    proc = run([perpsim_cmd, "deploy"], PERPSIM_ANVIL="/nonexistent/anvil")
    assert_one_line_error(proc, "anvil not found", "make setup")


def test_rpc_and_fork_together_are_refused(perpsim_cmd):
    proc = run([perpsim_cmd, "deploy", "--rpc", "http://a", "--fork-url", "http://b"])
    assert_one_line_error(proc, "either --rpc or --fork-url")


def test_bench_chain_json_reports_both_paths(perpsim_cmd):
    proc = run(
        [perpsim_cmd, "bench", "chain", "--json", "--transactions", "300", "--agents", "50",
         "--block-size", "100", "--ape-sample", "5"]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["batched"]["transactions"] == 300 and figures["batched"]["blocks"] == 3
    assert figures["ape_per_transaction"]["transactions"] == 5
    assert figures["speedup"] > 1


#: The venue-wide contracts every deploy prints, beside oracle/amm/base.SYMBOL per market.
VENUE_CONTRACTS = {
    "collateral", "venue", "insurance_fund", "timelock", "backstop_vault", "controller",
    "module.VenueLiquidationModule", "module.VenueAdlModule", "module.VenueGovernanceModule",
}  # fmt: skip


def per_market(symbols) -> set[str]:
    return {f"{kind}.{s}" for s in symbols for kind in ("oracle", "amm", "base")}


@pytest.mark.parametrize("preset", ["hyperliquid-like", "dydx-like", "gmx-like"])
def test_every_preset_deploys_a_whole_venue_of_every_market_of_its_table(perpsim_cmd, preset):
    proc = run([perpsim_cmd, "deploy", "--preset", preset, "--json"])
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["preset"] == preset
    symbols = preset_symbols(preset)
    assert info["markets"] == {s: i for i, s in enumerate(symbols, start=1)}
    assert set(info["contracts"]) == VENUE_CONTRACTS | per_market(symbols)
    addresses = list(info["contracts"].values())
    assert len(set(addresses)) == len(addresses)
    assert info["backstop_vault_wired"] is (preset == "hyperliquid-like")


@pytest.mark.parametrize("backend", ["anvil", "revm"])
def test_deploy_markets_lists_the_named_markets_in_order(perpsim_cmd, backend):
    proc = run([perpsim_cmd, "deploy", "--json", "--markets", "SOL,BTC,ETH", "--backend", backend])
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["backend"] == backend
    assert info["markets"] == {"SOL": 1, "BTC": 2, "ETH": 3}
    assert set(info["contracts"]) == VENUE_CONTRACTS | per_market(["SOL", "BTC", "ETH"])


def test_deploy_markets_on_an_existing_node_lists_them_on_the_venue(perpsim_cmd):
    with AnvilNode() as node:
        proc = run([perpsim_cmd, "deploy", "--json", "--rpc", node.url, "--markets", "ETH,DOGE"])
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        with open_chain(node.url) as chain:
            venue = PerpVenue(chain, load_artifacts()["PerpVenue"], info["contracts"]["venue"])
            assert chain.read_one(venue.market_count()) == 2
            for symbol, market in info["markets"].items():
                state = venue.market_now(market)
                assert symbol_str(state["symbol"]) == symbol
                assert state["oracle"] == info["contracts"][f"oracle.{symbol}"]
            assert venue.read("backstopVault") == info["contracts"]["backstop_vault"]


@pytest.mark.parametrize("backend", ["anvil", "revm"])
def test_deploy_on_a_fork_of_a_node_lists_the_markets_there(perpsim_cmd, backend):
    with AnvilNode() as upstream:
        for _ in range(50):
            upstream.rpc.request("evm_mine", [])
        proc = run([perpsim_cmd, "deploy", "--json", "--fork-url", upstream.url,
                    "--markets", "SOL,ALT", "--backend", backend])  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        assert info["backend"] == backend
        assert info["block"] > 50  # the fork continues from the upstream's head
        assert info["markets"] == {"SOL": 1, "ALT": 2}
        assert set(info["contracts"]) == VENUE_CONTRACTS | per_market(["SOL", "ALT"])
        # the fork wrote locally only: the upstream holds no venue
        assert upstream.rpc.request("eth_getCode", [info["contracts"]["venue"], "latest"]) == "0x"


def test_deploy_table_names_the_market_ids(perpsim_cmd):
    proc = run([perpsim_cmd, "deploy", "--markets", "BTC,XRP"])
    assert proc.returncode == 0, proc.stderr
    assert "market ids: BTC = 1, XRP = 2" in proc.stdout
    assert "oracle.XRP" in proc.stdout and "backstop_vault" in proc.stdout


def test_unknown_preset_is_a_one_line_error(perpsim_cmd):
    assert_one_line_error(
        run([perpsim_cmd, "deploy", "--preset", "nope"]), "unknown preset", "hyperliquid-like"
    )


@pytest.mark.parametrize(
    ("markets", "needles"),
    [
        ("BTC,NOPE", ["unknown market symbol 'NOPE'", "BTC, ETH, SOL"]),
        ("BTC,ETH,BTC", ["'BTC' listed twice"]),
        ("BTC,,ETH", ["--markets"]),
    ],
)
def test_bad_markets_are_a_one_line_error_before_any_node_starts(perpsim_cmd, markets, needles):
    with socket.socket() as s:  # a busy --port: reaching the node would be a different error
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run([perpsim_cmd, "deploy", "--markets", markets, "--port", str(port)])
    assert_one_line_error(proc, *needles)
