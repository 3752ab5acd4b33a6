"""Exogenous price paths of several assets at once (a multi-market venue's oracle feeds).

:mod:`simulator.prices.factor` holds the factor model (each asset's log return = beta × a
common factor return + its own noise, with its own volatility, drift, jumps and scheduled
shocks) and the multi-column CSV replay. The single-asset paths stay in
:mod:`simulator.pricepaths`; a one-asset factor model reproduces them exactly.
"""

from simulator.prices.factor import (
    AssetPathSpec,
    CommonShock,
    FactorModelPaths,
    FactorPath,
    FactorSpec,
    IdiosyncraticCorrelation,
    MultiAssetCsvPath,
    factor_model_prices,
    multi_asset_csv_notes,
    multi_asset_csv_prices,
    parse_factor_model,
    read_multi_asset_csv,
    read_multi_asset_csv_cached,
    sample_factor_model_paths,
    theoretical_log_return_correlation,
)

__all__ = [
    "AssetPathSpec",
    "CommonShock",
    "FactorModelPaths",
    "FactorPath",
    "FactorSpec",
    "IdiosyncraticCorrelation",
    "MultiAssetCsvPath",
    "factor_model_prices",
    "multi_asset_csv_notes",
    "multi_asset_csv_prices",
    "parse_factor_model",
    "read_multi_asset_csv",
    "read_multi_asset_csv_cached",
    "sample_factor_model_paths",
    "theoretical_log_return_correlation",
]
