"""Which backend wrote a chain-state dump (``Chain.dump_state``), so that a dump is only ever
loaded by the backend that can read it.

* anvil (``anvil_dumpState``): gzip-compressed JSON of accounts, code and storage;
* revm (``RevmChain``): a replay log of every state change and block stamp (pyrevm cannot list
  storage), tagged with :data:`REVM_REPLAY_MAGIC` and a format version.
"""

from __future__ import annotations

from simulator.errors import ChainError

#: First bytes of a revm replay log (then a one-byte format version and zlib-compressed JSON).
REVM_REPLAY_MAGIC = b"PERPSIM-REVM-REPLAY"
_GZIP_MAGIC = b"\x1f\x8b"


def dump_backend(state: bytes) -> str:
    """``"revm"``, ``"anvil"`` or ``"unknown"``: the backend whose ``dump_state`` wrote
    ``state``."""
    if state.startswith(REVM_REPLAY_MAGIC):
        return "revm"
    if state.startswith(_GZIP_MAGIC) or state.lstrip()[:1] == b"{":
        return "anvil"
    return "unknown"


def require_dump_of(backend: str, state: bytes) -> None:
    """Raise a one-line :class:`ChainError` unless ``state`` was dumped by ``backend``."""
    written_by = dump_backend(state)
    if written_by == backend:
        return
    if written_by == "unknown":
        raise ChainError(f"the saved chain state is not a {backend} state dump (unknown format)")
    raise ChainError(
        f"the saved chain state was written by the {written_by} backend and cannot be loaded "
        f"on {backend}; use --backend {written_by}"
    )
