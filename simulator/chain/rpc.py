"""A JSON-RPC 2.0 client over HTTP with batching, on web3.py's ``HTTPProvider``.

Batching is what makes the simulator fast: thousands of ``eth_sendTransaction`` or
``eth_call`` requests travel in one HTTP round trip. The transport is web3's provider
(``make_request`` / ``make_batch_request``: raw JSON-RPC replies, measured at the speed of a
hand-written client; web3's formatted ``batch_requests`` is many times slower and is not used),
over one keep-alive session, without web3's retries. What this module adds is the mapping of
transport failures to one-line errors: nothing listening, not a JSON-RPC node, a body the node
refused, a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import requests
from web3 import HTTPProvider

from simulator.errors import RpcError, RpcUnreachable

#: Requests per HTTP round trip: anvil refuses very large bodies ("Invalid request"), and a
#: few thousand requests per trip already amortize the round trip.
MAX_BATCH = 2_000

#: One request in a batch: (method, params).
Request = tuple[str, Sequence[Any]]


class RpcClient:
    """JSON-RPC client bound to one URL.

    Parameters
    ----------
    url:
        HTTP(S) endpoint of the node, e.g. ``http://127.0.0.1:8545``.
    timeout_s:
        Seconds to wait for one HTTP round trip (a whole batch counts as one).
    """

    def __init__(self, url: str, timeout_s: float = 120.0):
        self.url = url
        self.timeout_s = timeout_s
        self._session = requests.Session()
        # Looking up proxy settings in the environment costs ~1 ms per request (measured: a
        # third of the hot loop); a node on this machine never goes through a proxy.
        host = urlparse(url).hostname or ""
        self._session.trust_env = host not in ("127.0.0.1", "localhost", "::1")
        self._provider = HTTPProvider(
            url,
            request_kwargs={"timeout": timeout_s},
            session=self._session,
            exception_retry_configuration=None,  # a failure is reported, not retried
        )

    def close(self) -> None:
        self._session.close()

    # -- transport ---------------------------------------------------------------------------

    def _post(self, send: Callable[[], Any]) -> Any:
        """Run one provider round trip; map transport failures to :class:`RpcUnreachable`."""
        try:
            return send()
        except requests.exceptions.InvalidURL as exc:
            raise RpcUnreachable(f"invalid RPC URL {self.url!r}: {exc}") from None
        except requests.exceptions.MissingSchema:
            raise RpcUnreachable(
                f"invalid RPC URL {self.url!r}: expected http://host:port"
            ) from None
        except requests.exceptions.Timeout:
            raise RpcUnreachable(
                f"RPC at {self.url} did not answer within {self.timeout_s:g} s"
            ) from None
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise RpcUnreachable(f"{self.url} refused the request (HTTP {status})") from None
        except requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            if isinstance(exc, requests.exceptions.ConnectionError):
                reason = "connection refused or host unreachable"
            raise RpcUnreachable(f"cannot reach RPC at {self.url}: {reason}") from None
        except ValueError:  # the reply is not JSON (or not text)
            raise RpcUnreachable(
                f"{self.url} is not a JSON-RPC node (its HTTP reply is not JSON)"
            ) from None

    @staticmethod
    def _unwrap(method: str, reply: Any) -> Any:
        if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
            raise RpcUnreachable(f"unexpected JSON-RPC reply to {method}: {str(reply)[:120]}")
        if "error" in reply and reply["error"] is not None:
            err = reply["error"]
            raise RpcError(method, err.get("code"), err.get("message", ""), err.get("data"))
        return reply["result"]

    # -- API ---------------------------------------------------------------------------------

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Send one request; return its ``result`` or raise :class:`RpcError`."""
        reply = self._post(lambda: self._provider.make_request(method, list(params)))
        return self._unwrap(method, reply)

    def batch_raw(self, requests_: Sequence[Request]) -> list[dict]:
        """Send many requests, ``MAX_BATCH`` per HTTP round trip; return the reply objects in
        request order.

        Replies that carry an ``error`` are returned as they are, so one failing request does
        not hide the others.
        """
        replies: list[dict] = []
        for start in range(0, len(requests_), MAX_BATCH):
            replies += self._batch_once(requests_[start : start + MAX_BATCH])
        return replies

    def _batch_once(self, requests_: Sequence[Request]) -> list[dict]:
        if not requests_:
            return []
        batch = [(m, list(p)) for m, p in requests_]
        replies = self._post(lambda: self._provider.make_batch_request(batch))
        if not isinstance(replies, list):
            # A node answers a whole batch with one error object when it rejects the batch.
            self._unwrap(requests_[0][0], replies)
            raise RpcUnreachable(f"{self.url} did not answer a JSON-RPC batch with a list")
        if len(replies) != len(batch):
            raise RpcUnreachable(
                f"{self.url} answered {len(replies)} of the {len(batch)} requests of a batch"
            )
        return list(replies)  # in request order (web3 sorts the replies by id)

    def batch(self, requests_: Sequence[Request]) -> list[Any]:
        """Like :meth:`batch_raw` but return results and raise on the first error."""
        return [
            self._unwrap(m, reply)
            for (m, _), reply in zip(requests_, self.batch_raw(requests_), strict=True)
        ]
