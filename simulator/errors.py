"""Errors that perpsim reports to users.

Every error a user can cause (bad input, an unreachable node, a contract that does not compile,
a reverted transaction) derives from :class:`PerpsimError`. The CLI prints ``error: <message>``
on one line and exits with code 2 for these; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PerpsimError(Exception):
    """Base class for errors caused by input or environment; the message is one line."""

    exit_code = 2

    def __init__(self, message: str):
        # Collapse whitespace so the message really is one line wherever it is printed.
        super().__init__(" ".join(str(message).split()))


class ChainError(PerpsimError):
    """A node could not be started or reached, or answered with an error."""


class NodeStartError(ChainError):
    """anvil is missing, its port is taken, or it exited before answering."""


class RpcUnreachable(ChainError):
    """Nothing answers JSON-RPC at the given URL."""


class RpcError(ChainError):
    """The node answered a JSON-RPC request with an error object."""

    def __init__(self, method: str, code: int | None, message: str, data: object = None):
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data
        super().__init__(f"{method} failed: {message} (code {code})")


class CompileError(PerpsimError):
    """A contract failed to compile, or compiled artifacts are missing."""


class DeployError(ChainError):
    """A contract deployment transaction failed."""


class TransactionReverted(ChainError):
    """A transaction that had to succeed reverted; carries the decoded error."""

    def __init__(self, label: str, error: object):
        self.label = label
        self.error = error
        super().__init__(f"transaction {label} reverted: {error}")


class ContagionError(PerpsimError):
    """A contagion algorithm got bad input: a graph that is not a ``DiGraph``, a missing or
    negative ``exposure_usd`` / ``equity_usd`` / ``external_assets_usd``, a self-loop, a shock
    outside [0, 1] or naming an unknown node."""


class ContagionNotConverged(ContagionError):
    """An iterative contagion algorithm did not reach its tolerance within ``max_iter``
    iterations; carries the iteration count and the last change."""

    def __init__(self, algorithm: str, iterations: int, change: float, tol: float):
        self.iterations = iterations
        self.change = change
        super().__init__(
            f"{algorithm} did not converge in {iterations} iterations "
            f"(last change {change:.3g} > tolerance {tol:.3g}); raise max_iter or check the graph"
        )
