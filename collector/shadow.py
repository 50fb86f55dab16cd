"""OTLP request classes that leave attribute lists as undecoded bytes.

Reading an attribute out of a parsed protobuf costs about 1 µs in Python (a wrapper
for the KeyValue, one for its AnyValue, the oneof lookup, two strings): with a dozen
attributes per GenAI span, that was half of the decode workers' time (py-spy, bench/
ingest.py). Yet most attributes of a stream of spans repeat byte for byte: the same
keys, and values such as the operation, the provider, the model, the finish reason,
the run's name.

So protobuf bodies are parsed into *shadow* classes: copies of the OTLP messages
whose ``attributes`` field is declared ``repeated bytes`` instead of ``repeated
KeyValue``. On the wire the two are the same (a length-delimited record per entry),
so protobuf's own parser splits the attribute list and hands each KeyValue over as
its encoded bytes, which :class:`AttributeCache` maps to ``(key, value as stored)``,
decoding each distinct encoding once. Everything else in the request keeps its real
OTLP type. The shadow descriptors are derived from ``opentelemetry-proto``'s own at
import time, so they follow that package's schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tokentrail.collector.decode import DecodeError

_PACKAGE = "tokentrail.shadow"


def _add_with_dependencies(pool: descriptor_pool.DescriptorPool, file: FileDescriptor,
                           added: set[str]) -> None:
    if file.name in added:
        return
    for dependency in file.dependencies:
        _add_with_dependencies(pool, dependency, added)
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    pool.Add(proto)
    added.add(file.name)


def shadow_class(request_cls: type[Message], path: Sequence[str],
                 leaf_field: str = "attributes") -> type[Message]:
    """A copy of ``request_cls`` in which ``leaf_field`` of the message reached through
    the repeated message fields ``path`` is ``repeated bytes``.

    Only the messages along ``path`` are copied (into package ``tokentrail.shadow``);
    their other fields keep pointing at the original OTLP types.
    """
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    chain: list[Descriptor] = [request_cls.DESCRIPTOR]
    for name in path:
        chain.append(chain[-1].fields_by_name[name].message_type)
    for descriptor in chain:
        _add_with_dependencies(pool, descriptor.file, added)

    shadow = descriptor_pb2.FileDescriptorProto(
        name=f"tokentrail/shadow/{request_cls.__name__}.proto", package=_PACKAGE,
        syntax="proto3", dependency=sorted({d.file.name for d in chain}))
    for depth, descriptor in enumerate(chain):
        message = shadow.message_type.add()
        descriptor.CopyToProto(message)
        # Nested types stay with the original: CopyToProto writes every field's type
        # as an absolute name, which the dependencies resolve.
        del message.nested_type[:]
        del message.enum_type[:]
        if depth + 1 < len(chain):
            inner = message.field[[f.name for f in message.field].index(path[depth])]
            inner.type_name = f".{_PACKAGE}.{chain[depth + 1].name}"
        else:
            leaf = message.field[[f.name for f in message.field].index(leaf_field)]
            leaf.type = FieldDescriptor.TYPE_BYTES
            leaf.ClearField("type_name")
    pool.Add(shadow)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.{request_cls.DESCRIPTOR.name}"))


class AttributeCache:
    """Encoded KeyValue -> (key, value as stored), each distinct encoding decoded once.

    Bounded: cleared when it holds ``size`` entries; encodings longer than
    ``max_entry_bytes`` (large, probably unique values) are decoded but not kept.
    """

    def __init__(self, to_str: Callable[[AnyValue], str], size: int = 50_000,
                 max_entry_bytes: int = 256) -> None:
        self._to_str = to_str
        self._size = size
        self._max_entry_bytes = max_entry_bytes
        self._entries: dict[bytes, tuple[str, str]] = {}

    def decode(self, encoded: Iterable[bytes]) -> dict[str, str]:
        """The attribute map of one span, log record, ... (last key wins, as before)."""
        out: dict[str, str] = {}
        entries = self._entries
        for raw in encoded:
            item = entries.get(raw)
            if item is None:
                item = self._miss(raw)
            out[item[0]] = item[1]
        return out

    def _miss(self, raw: bytes) -> tuple[str, str]:
        try:
            kv = KeyValue.FromString(raw)
        except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
            raise DecodeError(f"an attribute is not a valid protobuf KeyValue: {exc}") \
                from None
        item = (kv.key, self._to_str(kv.value))
        if len(raw) <= self._max_entry_bytes:
            if len(self._entries) >= self._size:
                self._entries.clear()
            self._entries[raw] = item
        return item


TraceRequestShadow = shadow_class(ExportTraceServiceRequest,
                                  ("resource_spans", "scope_spans", "spans"))
LogsRequestShadow = shadow_class(ExportLogsServiceRequest,
                                 ("resource_logs", "scope_logs", "log_records"))
