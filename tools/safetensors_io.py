"""Minimal safetensors writer and reader (docs/spec.md section 6), without the safetensors package.

write(path, tensors, metadata=None)
    tensors: {name: numpy array | torch tensor | RawTensor}. The file has the layout of
    the reference writer (docs/spec.md 6.5): compact JSON header with __metadata__ first, then the
    tensors in buffer order (dtype by descending alignment, then name byte-wise), header
    padded with spaces to a multiple of 8 so the data buffer is 8-byte aligned.
read(path) -> {name: numpy array}
read_with_metadata(path) -> ({name: numpy array}, {key: value})
read_header(path) -> (header dict in file order, header length N)

BF16 has no numpy type: BF16 tensors are read as float32 (exact widening); to write BF16
from numpy pass RawTensor("BF16", shape, uint16 bit patterns) or a torch.bfloat16 tensor.
"""

import json
import struct
from collections import OrderedDict

import numpy as np

# dtype -> (numpy type or None, element size in bytes).
_DTYPES = {
    "BOOL": (np.bool_, 1),
    "U8": (np.uint8, 1),
    "I8": (np.int8, 1),
    "I16": (np.int16, 2),
    "U16": (np.uint16, 2),
    "F16": (np.float16, 2),
    "BF16": (None, 2),
    "I32": (np.int32, 4),
    "U32": (np.uint32, 4),
    "F32": (np.float32, 4),
    "F64": (np.float64, 8),
    "I64": (np.int64, 8),
    "U64": (np.uint64, 8),
}

# The reference writer sorts by its Dtype enum in descending order (docs/spec.md 6.5); this list is
# that order, largest first.
_BUFFER_ORDER = ["U64", "I64", "F64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16",
                 "I8", "U8", "BOOL"]
_RANK = {name: i for i, name in enumerate(_BUFFER_ORDER)}

_NUMPY_TO_DTYPE = {np.dtype(t).newbyteorder("<"): name
                   for name, (t, _) in _DTYPES.items() if t is not None}

_MAX_HEADER = 100_000_000


class SafetensorsError(Exception):
    """A file that is not valid safetensors, or a value that cannot be written."""


class RawTensor:
    """Already-encoded little-endian tensor bytes with an explicit dtype (e.g. BF16)."""

    def __init__(self, dtype, shape, data):
        if dtype not in _DTYPES:
            raise SafetensorsError(f"unsupported dtype {dtype!r}")
        self.dtype = dtype
        self.shape = [int(s) for s in shape]
        self.data = bytes(np.ascontiguousarray(data).tobytes()) if not isinstance(
            data, (bytes, bytearray)) else bytes(data)
        expected = int(np.prod(self.shape, dtype=np.int64)) * _DTYPES[dtype][1]
        if len(self.data) != expected:
            raise SafetensorsError(
                f"RawTensor {dtype}{self.shape}: expected {expected} bytes, got {len(self.data)}")


def _encode(name, value):
    """Returns (dtype, shape, bytes) for one tensor value."""
    if isinstance(value, RawTensor):
        return value.dtype, value.shape, value.data
    if type(value).__module__.startswith("torch"):
        import torch  # only when the caller already uses torch
        t = value.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            bits = t.view(torch.int16).numpy().view(np.uint16)
            return "BF16", list(t.shape), bits.astype("<u2").tobytes()
        value = t.numpy()
    array = np.asarray(value)
    dtype = _NUMPY_TO_DTYPE.get(array.dtype.newbyteorder("<"))
    if dtype is None:
        raise SafetensorsError(f"{name}: unsupported numpy dtype {array.dtype}")
    little = np.ascontiguousarray(array, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<"))
    return dtype, list(array.shape), little.tobytes()


def write(path, tensors, metadata=None):
    """Writes tensors (a mapping name -> array) and optional string metadata to path."""
    encoded = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"invalid tensor name {name!r}")
        dtype, shape, data = _encode(name, value)
        encoded.append((name, dtype, shape, data))
    encoded.sort(key=lambda e: (_RANK[e[1]], e[0].encode("utf-8")))

    header = OrderedDict()
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"metadata must map strings to strings: {k!r}: {v!r}")
        header["__metadata__"] = OrderedDict(metadata)
    offset = 0
    for name, dtype, shape, data in encoded:
        header[name] = OrderedDict(
            [("dtype", dtype), ("shape", shape), ("data_offsets", [offset, offset + len(data)])])
        offset += len(data)

    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in encoded:
            f.write(data)


def _no_duplicates(pairs):
    seen = OrderedDict()
    for k, v in pairs:
        if k in seen:
            raise SafetensorsError(f"duplicate key {k!r} in header")
        seen[k] = v
    return seen


def read_header(path):
    """Returns (header as an ordered dict, header length N) after checking the byte layout."""
    with open(path, "rb") as f:
        blob = f.read(8)
        if len(blob) < 8:
            raise SafetensorsError(f"{path}: file shorter than 8 bytes")
        (n,) = struct.unpack("<Q", blob)
        f.seek(0, 2)
        size = f.tell()
        if n > _MAX_HEADER or n > size - 8 or n < 2:
            raise SafetensorsError(f"{path}: header length {n} invalid for file size {size}")
        f.seek(8)
        raw = f.read(n)
    if raw[:1] != b"{":
        raise SafetensorsError(f"{path}: header does not start with '{{'")
    try:
        header = json.loads(raw.decode("utf-8").rstrip(" \t\r\n"),
                            object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"{path}: invalid header JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header, n


def read_with_metadata(path):
    """Returns ({name: numpy array}, metadata dict). Checks offsets cover the buffer exactly."""
    header, n = read_header(path)
    metadata = header.pop("__metadata__", {}) or {}
    with open(path, "rb") as f:
        f.seek(8 + n)
        buffer = f.read()
    spans = []
    tensors = OrderedDict()
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{path}: {name}: unexpected members {sorted(info)}")
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{path}: {name}: unsupported dtype {dtype}")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if end - begin != count * _DTYPES[dtype][1] or begin > end:
            raise SafetensorsError(f"{path}: {name}: data_offsets [{begin}, {end}] do not match "
                                   f"{dtype}{shape}")
        spans.append((begin, end, name))
        data = buffer[begin:end]
        if dtype == "BF16":
            bits = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        else:
            array = np.frombuffer(data, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<"))
            array = array.astype(array.dtype.newbyteorder("="))
        tensors[name] = array.reshape(shape)
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise SafetensorsError(f"{path}: {name}: gap or overlap at buffer offset {begin}")
        position = end
    if position != len(buffer):
        raise SafetensorsError(f"{path}: buffer has {len(buffer)} bytes, tensors cover {position}")
    return tensors, dict(metadata)


def read(path):
    """Returns {name: numpy array} in header order."""
    return read_with_metadata(path)[0]
