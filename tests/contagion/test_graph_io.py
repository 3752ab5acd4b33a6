"""Graph files of a run folder: the round trip keeps every figure; bad files are one line."""

import json

import networkx as nx
import pytest

from simulator.contagion.graph_io import FORMAT, read_graph, run_graph_paths, write_graph
from simulator.errors import ContagionError


def _graph() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_node("venue", type="perp_venue", equity_usd=1e6, external_assets_usd=2e6, pool_usd=-3.5)
    G.add_node("lending_pool", type="lending_pool", equity_usd=4e5, external_assets_usd=1.25e5)
    G.add_edge("lending_pool", "venue", exposure_usd=123456.789012)
    return G


def test_round_trip_keeps_every_attribute(tmp_path):
    G = _graph()
    start, end = run_graph_paths(tmp_path)
    start.parent.mkdir()
    write_graph(start, G, step=7)
    H, step = read_graph(start)
    assert step == 7
    assert dict(H.nodes(data=True)) == dict(G.nodes(data=True))
    assert list(H.edges(data=True)) == list(G.edges(data=True))
    assert end.name == "graph_end.json" and end.parent == start.parent


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "not found"),
        ("{not json", "not readable JSON"),
        (json.dumps({"format": "other", "step": 0, "graph": {}}), "has format 'other'"),
        (json.dumps({"format": FORMAT, "graph": {}}), "malformed"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path, content, match):
    p = tmp_path / "g.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(ContagionError, match=match) as info:
        read_graph(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_write_refuses_what_is_not_a_digraph(tmp_path):
    with pytest.raises(ContagionError, match="DiGraph"):
        write_graph(tmp_path / "g.json", nx.Graph(), step=0)
    assert not (tmp_path / "g.json").exists()
