"""Contagion between protocols on an exposure graph (issue 13).

Plain networkx ``DiGraph`` in, ``{node: value}`` out. Edges point from **holder to issuer**
with attribute ``exposure_usd`` (USD of the issuer's liabilities the holder holds, i.e. what the
issuer owes the holder); nodes carry ``equity_usd`` and ``external_assets_usd``. Distress and
losses flow against the edges. See REFERENCES.md, "Contagion algorithms", and each function's
docstring for its variant and conventions.

- :func:`debtrank` (Battiston 2012, or Bardoscia 2015 with ``variant="differential"``) and
  :func:`debtrank_loss`;
- :func:`eisenberg_noe` and :func:`rogers_veraart`: greatest clearing vectors;
- :func:`furfine`: a threshold default cascade, in rounds.

>>> import networkx as nx
>>> from simulator.contagion import debtrank
>>> G = nx.DiGraph([("fund", "venue", {"exposure_usd": 25.0})])
>>> nx.set_node_attributes(G, {"fund": 100.0, "venue": 50.0}, "equity_usd")
>>> debtrank(G, {"venue": 1.0})
{'fund': 0.25, 'venue': 1.0}
"""

from simulator.contagion.cascade import furfine
from simulator.contagion.clearing import eisenberg_noe, rogers_veraart
from simulator.contagion.debtrank import debtrank, debtrank_loss

__all__ = ["debtrank", "debtrank_loss", "eisenberg_noe", "furfine", "rogers_veraart"]
