"""ABI encoding and decoding for the hot loop: function calls, events and custom errors.

Contract ABIs come from ape's build (``.build/__local__.json``). Everything here is
precomputed once per ABI (selectors, topic hashes, codecs) so that encoding a call or decoding
a log in the engine loop is one codec call: the fast word codec of
:mod:`simulator.chain.codec` for static types, eth-abi otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from simulator.chain.codec import TupleCodec, _Fallback, word_decoder
from simulator.chain.codec import checksum as to_checksum_address


def _type_str(item: dict) -> str:
    """Canonical eth-abi type string of one ABI input/output (tuples expanded)."""
    t = item["type"]
    if t.startswith("tuple"):
        inner = ",".join(_type_str(c) for c in item["components"])
        return f"({inner}){t[len('tuple') :]}"
    return t


def _signature(item: dict) -> str:
    return f"{item['name']}({','.join(_type_str(i) for i in item.get('inputs', []))})"


def _normalise(value: Any, type_str: str) -> Any:
    """Checksum addresses so decoded values compare equal to wrapper inputs."""
    if type_str == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if type_str == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


# -- fast paths for the keepers' batched views ---------------------------------------------------
# ``healthOf(address[])`` over every account runs each block; eth-abi takes tens of milliseconds
# to encode 1,000 addresses and decode four 1,000-long arrays. These do the same in a few,
# exactly (tests compare them with eth-abi).

_WORD_ARRAYS = {"uint256[]": False, "int256[]": True, "bool[]": None}


def encode_address_array(addresses: Any) -> bytes:
    """ABI encoding of one ``address[]`` argument (head offset, length, padded words)."""
    parts = [(32).to_bytes(32, "big"), len(addresses).to_bytes(32, "big")]
    parts += [bytes(12) + bytes.fromhex(a[2:] if a.startswith("0x") else a) for a in addresses]
    return b"".join(parts)


def decode_word_arrays(types: tuple[str, ...], data: bytes) -> tuple:
    """Decode a tuple of ``uint256[]`` / ``int256[]`` / ``bool[]`` return values."""
    out = []
    for i, type_str in enumerate(types):
        offset = int.from_bytes(data[32 * i : 32 * i + 32], "big")
        length = int.from_bytes(data[offset : offset + 32], "big")
        start = offset + 32
        signed = _WORD_ARRAYS[type_str]
        if signed is None:
            values = [data[start + 32 * k + 31] != 0 for k in range(length)]
        else:
            values = [
                int.from_bytes(data[start + 32 * k : start + 32 * k + 32], "big", signed=signed)
                for k in range(length)
            ]
        out.append(tuple(values))
    return tuple(out)


@dataclass(frozen=True)
class Function:
    """One ABI function: ``encode(*args)`` gives calldata, ``decode(output)`` the result."""

    name: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    mutability: str
    _inputs: TupleCodec = field(init=False, repr=False, compare=False)
    _outputs: TupleCodec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inputs", TupleCodec(self.input_types))
        object.__setattr__(self, "_outputs", TupleCodec(self.output_types))

    @classmethod
    def from_abi(cls, item: dict) -> Function:
        return cls(
            name=item["name"],
            selector=keccak(text=_signature(item))[:4],
            input_types=tuple(_type_str(i) for i in item.get("inputs", [])),
            output_types=tuple(_type_str(o) for o in item.get("outputs", [])),
            mutability=item.get("stateMutability", "nonpayable"),
        )

    def encode(self, *args: Any) -> bytes:
        if len(args) != len(self.input_types):
            raise TypeError(f"{self.name} takes {len(self.input_types)} arguments, got {len(args)}")
        if self.input_types == ("address[]",):
            return self.selector + encode_address_array(args[0])
        return self.selector + self._inputs.encode(args)

    def decode(self, output: bytes) -> Any:
        """Decoded return value: one value for a single output, a tuple for several."""
        if self.output_types and all(t in _WORD_ARRAYS for t in self.output_types):
            values = decode_word_arrays(self.output_types, output)
            return values[0] if len(values) == 1 else values
        values = self._outputs.decode(output)
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class DecodedEvent:
    """A log decoded against a known event ABI."""

    name: str
    address: str
    args: dict[str, Any]
    log_index: int = 0


@dataclass(frozen=True)
class DecodedError:
    """Revert data decoded against a known custom error, ``Error(string)`` or ``Panic``."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.name}({inner})"


@dataclass(frozen=True)
class _EventSpec:
    name: str
    indexed: tuple[tuple[str, str, TupleCodec | None], ...]  # (name, type, codec if static)
    data_names: tuple[str, ...]
    data: TupleCodec


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]


_BUILTIN_ERRORS = {
    bytes.fromhex("08c379a0"): _ErrorSpec("Error", ("message",), ("string",)),
    bytes.fromhex("4e487b71"): _ErrorSpec("Panic", ("code",), ("uint256",)),
}


class AbiRegistry:
    """Event and error decoders over every ABI the project knows (topic0 / selector keyed)."""

    def __init__(self) -> None:
        self._events: dict[bytes, _EventSpec] = {}
        self._events_hex: dict[str, tuple[_EventSpec, tuple]] = {}
        """topic0 as a JSON-RPC log spells it (``0x`` + lower-case hex) -> the event and, per
        indexed input, its one-word decoder (None: through :meth:`decode_log_raw`'s codec)."""
        self._errors: dict[bytes, _ErrorSpec] = dict(_BUILTIN_ERRORS)

    def add_abi(self, abi: list[dict]) -> None:
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                inputs = item.get("inputs", [])
                topic = keccak(text=_signature(item))
                indexed = []
                for i in inputs:
                    if i.get("indexed"):
                        t = _type_str(i)
                        # a dynamic indexed value is only its hash: kept as the raw topic
                        dynamic = t in ("string", "bytes") or t.endswith("]") or "(" in t
                        indexed.append((i["name"], t, None if dynamic else TupleCodec([t])))
                spec = self._events[topic] = _EventSpec(
                    name=item["name"],
                    indexed=tuple(indexed),
                    data_names=tuple(i["name"] for i in inputs if not i.get("indexed")),
                    data=TupleCodec([_type_str(i) for i in inputs if not i.get("indexed")]),
                )
                words = tuple(
                    None if codec is None else word_decoder(codec) for _, _, codec in indexed
                )
                if all(words):
                    self._events_hex["0x" + topic.hex()] = (spec, words)
                else:
                    self._events_hex.pop("0x" + topic.hex(), None)
            elif item.get("type") == "error":
                inputs = item.get("inputs", [])
                self._errors[keccak(text=_signature(item))[:4]] = _ErrorSpec(
                    name=item["name"],
                    names=tuple(i["name"] for i in inputs),
                    types=tuple(_type_str(i) for i in inputs),
                )

    def decode_log(self, log: dict) -> DecodedEvent | None:
        """Decode one JSON-RPC log object; ``None`` for logs of unknown events.

        An event whose indexed inputs are all one-word types (every venue event) is looked up by
        its topic0 string and its indexed words decoded straight from the topics' hex: the
        engine decodes every log of every block (about 65,000 an oct-2025 run), the same
        values as :meth:`decode_log_parts` gives (anything unusual goes that way)."""
        topics = log.get("topics")
        fast = self._events_hex.get(topics[0]) if topics else None
        if fast is not None:
            spec, words = fast
            if len(topics) - 1 == len(words) and all(len(t) == 66 for t in topics):
                try:
                    args = {
                        name: word(bytes.fromhex(raw[2:]))
                        for (name, _, _), word, raw in zip(
                            spec.indexed, words, topics[1:], strict=True
                        )
                    }
                    if spec.data_names:
                        args.update(
                            zip(
                                spec.data_names,
                                spec.data.decode(bytes.fromhex(log["data"][2:])),
                                strict=True,
                            )
                        )
                    return DecodedEvent(
                        name=spec.name,
                        address=to_checksum_address(log["address"]),
                        args=args,
                        log_index=int(log.get("logIndex", "0x0"), 16),
                    )
                except (_Fallback, ValueError):
                    pass
        return self.decode_log_parts(
            log["address"],
            log.get("topics") or [],
            bytes.fromhex(log["data"][2:]),
            int(log.get("logIndex", "0x0"), 16),
        )

    def decode_log_parts(
        self, address: str, topics: Sequence[str], data: bytes, log_index: int = 0
    ) -> DecodedEvent | None:
        """Decode a log given as its parts (hex topics, raw data); ``None`` if unknown."""
        return self.decode_log_raw(address, [bytes.fromhex(t[2:]) for t in topics], data, log_index)

    def decode_log_raw(
        self, address: str, topics: Sequence[bytes], data: bytes, log_index: int = 0
    ) -> DecodedEvent | None:
        """Decode a log given as raw topics and data (the in-process EVM's form)."""
        if not topics:
            return None
        spec = self._events.get(topics[0])
        if spec is None or len(topics) - 1 != len(spec.indexed):
            return None
        args: dict[str, Any] = {}
        for (name, _, codec), raw in zip(spec.indexed, topics[1:], strict=True):
            args[name] = raw if codec is None else codec.decode(raw)[0]
        if spec.data_names:
            args.update(zip(spec.data_names, spec.data.decode(data), strict=True))
        return DecodedEvent(
            name=spec.name,
            address=to_checksum_address(address),
            args=args,
            log_index=log_index,
        )

    def decode_error(self, data: bytes) -> DecodedError:
        """Decode revert data; unknown selectors and empty data still give a named result."""
        if len(data) < 4:
            return DecodedError("EmptyRevert" if not data else "UnknownError", raw=data)
        spec = self._errors.get(data[:4])
        if spec is None:
            return DecodedError(f"UnknownError(0x{data[:4].hex()})", raw=data)
        try:
            values = abi_decode(spec.types, data[4:])
        except Exception:  # malformed payload: keep the name, drop the arguments
            return DecodedError(spec.name, raw=data)
        args = {
            (n or f"arg{i}"): _normalise(v, t)
            for i, (n, t, v) in enumerate(zip(spec.names, spec.types, values, strict=True))
        }
        return DecodedError(spec.name, args, raw=data)
