"""Scenarios: what one simulation run is made of, validated.

A scenario names the venue preset (``venue``) and its markets (``markets``: symbol, parameter
overrides, spot AMM depth, path parameters), the risk controls that are on, the trader
population (accounts holding positions in one or several markets), the exogenous prices (one
market's GBM / list / CSV path, a factor model of every market, or a CSV with one column per
market) with oracle faults on top, the other agents (keepers, arbitrageurs, LPs), the number of
steps and the seed. Scenarios are YAML
files (presets ship in ``simulator/scenarios/``) validated by frozen pydantic models: unknown
keys and out-of-range values are errors that name the key.

Modules, one concept each (every public name is re-exported here, so
``from simulator.scenario import X`` works for all of them):

- :mod:`~simulator.scenario.models` -- the schema (:class:`Scenario` and its sections);
  :mod:`~simulator.scenario.paths` -- its price-path and oracle-fault sections;
  :mod:`~simulator.scenario.base` -- the base model.
- :mod:`~simulator.scenario.loading` -- presets and YAML files into a validated scenario
  (:func:`load_scenario`, :func:`parse_scenario`).
- :mod:`~simulator.scenario.overrides` -- ``--set`` items: parsing, applying, describing.
- :mod:`~simulator.scenario.csv_inputs` -- CSV price paths and explicit books.
- :mod:`~simulator.scenario.venue` -- the venue a scenario deploys and the checks against it.
- :mod:`~simulator.scenario.randomness` -- the seed's independent random streams.
- :mod:`~simulator.scenario.control_sets` -- named control sets of ``perpsim compare``.
- :mod:`~simulator.scenario.messages` -- :class:`ScenarioError` and one-line error text;
  :mod:`~simulator.scenario.yaml_text` -- YAML reading (duplicate keys, key lines).

Conventions
-----------
- One step is one block; ``step_seconds`` of simulated time pass per step. Price paths have
  ``steps + 1`` points: index 0 is the start, index ``k`` the price at the end of step ``k``.
- ``side`` is ``"long"`` or ``"short"`` in files and +1 / -1 in arrays.
- Money is in USD (the collateral stable coin), sizes in base units of the traded asset.
- Fractions are plain numbers in [0, 1] (0.2 is 20%), never percent.

Loading
-------
``load_scenario("oct-2025")`` loads a preset, ``load_scenario("my.yaml")`` a file; both take
``--set``-style overrides (``"controls.adl_policy=pro_rata"``, ``"traders.count=200"``) whose
values are parsed as YAML scalars. Every problem becomes a one-line :class:`ScenarioError`,
including what needs the venue or the data files: the venue preset, its overrides and the
controls must make a valid venue (:meth:`Scenario.venue_params`, a
:class:`~simulator.protocol.venue_params.MultiVenueParams`), an explicit book must be one
the venue accepts (:func:`check_explicit_book`), and a CSV price path must cover the run
(unless ``hold_last``). A :class:`Scenario` that exists is valid, so nothing is found out
after a run folder exists.

Randomness
----------
One integer ``seed`` drives a run; see :mod:`~simulator.scenario.randomness`.
"""

from __future__ import annotations

from simulator.scenario.control_sets import (
    CONTROL_SETS,
    DEFAULT_CONTROL_SETS,
    control_set,
)
from simulator.scenario.csv_inputs import (
    _price_csv_cached as _price_csv_cached,
)
from simulator.scenario.csv_inputs import (
    csv_coverage_problem,
    read_positions_csv,
    read_price_csv,
)
from simulator.scenario.loading import (
    SCENARIOS_DIR,
    available_presets,
    load_scenario,
    parse_scenario,
)
from simulator.scenario.messages import (
    ScenarioError,
)
from simulator.scenario.messages import (
    _plain as _plain,
)
from simulator.scenario.models import (
    BEHAVIOURS,
    AmmSpec,
    ArbitrageurSpec,
    BehaviourMix,
    BehaviourParams,
    BehaviourWeights,
    CollateralSpec,
    Controls,
    ExplicitBook,
    ExplicitPosition,
    GovernanceChange,
    KeeperSpec,
    LeverageSpec,
    LpSpec,
    MarketAmm,
    MarketSpec,
    RandomPopulation,
    Scenario,
    VenueSpec,
    WhaleSpec,
)
from simulator.scenario.overrides import (
    OVERRIDES_NOTE,
    apply_overrides,
    describe_overrides,
    format_override_value,
    override_key_parts,
    overrides_in_description,
    parse_override_items,
)
from simulator.scenario.paths import (
    AssetPathSpec,
    BadPrintFault,
    CommonShock,
    CsvPath,
    FactorModelPaths,
    FactorPath,
    FactorSpec,
    GbmPath,
    IdiosyncraticCorrelation,
    LagFault,
    ListPath,
    MarketPath,
    Shock,
    StaleFault,
)
from simulator.scenario.randomness import (
    RandomStreams,
    path_seeds,
    random_streams,
)
from simulator.scenario.venue import (
    GUARDIAN_PARAMETERS,
    book_accounts,
    check_explicit_book,
)

# _plain and _price_csv_cached are shared with simulator.pricepaths (CSV notes).
__all__ = [
    "SCENARIOS_DIR",
    "ScenarioError",
    "Scenario",
    "VenueSpec",
    "MarketSpec",
    "MarketAmm",
    "MarketPath",
    "Controls",
    "GovernanceChange",
    "RandomPopulation",
    "ExplicitBook",
    "ExplicitPosition",
    "CollateralSpec",
    "LeverageSpec",
    "WhaleSpec",
    "BehaviourWeights",
    "BehaviourParams",
    "BehaviourMix",
    "GbmPath",
    "CsvPath",
    "ListPath",
    "FactorPath",
    "FactorSpec",
    "CommonShock",
    "IdiosyncraticCorrelation",
    "AssetPathSpec",
    "FactorModelPaths",
    "Shock",
    "LagFault",
    "StaleFault",
    "BadPrintFault",
    "KeeperSpec",
    "ArbitrageurSpec",
    "AmmSpec",
    "LpSpec",
    "BEHAVIOURS",
    "available_presets",
    "load_scenario",
    "parse_scenario",
    "apply_overrides",
    "override_key_parts",
    "parse_override_items",
    "format_override_value",
    "describe_overrides",
    "OVERRIDES_NOTE",
    "overrides_in_description",
    "read_price_csv",
    "read_positions_csv",
    "check_explicit_book",
    "book_accounts",
    "csv_coverage_problem",
    "GUARDIAN_PARAMETERS",
    "RandomStreams",
    "random_streams",
    "path_seeds",
    "CONTROL_SETS",
    "DEFAULT_CONTROL_SETS",
    "control_set",
]
