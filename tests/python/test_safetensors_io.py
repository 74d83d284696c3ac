#!/usr/bin/env python3
"""tools/safetensors_io.py: byte layout of the reference writer (docs/spec.md 6.1, 6.2, 6.5) checked
by hand-parsing the file, round trips for every supported dtype, and reader rejections.

    test_safetensors_io.py [SCRATCH_DIR]
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import safetensors_io as st  # noqa: E402


def raw_header(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return n, blob[8:8 + n], blob[8 + n:]


def check_layout(d):
    path = os.path.join(d, "layout.safetensors")
    tensors = {
        "b.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a.weight": np.array([1.5, -2.0], dtype=np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "half": np.array([1.0, 0.5], dtype=np.float16),
        "double": np.array([3.25], dtype=np.float64),
        "bytes": np.array([1, 2, 3], dtype=np.uint8),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    st.write(path, tensors, {"format": "pt", "source": "test"})
    n, header, buffer = raw_header(path)
    assert n % 8 == 0 and n == len(header)
    text = header.decode("utf-8")
    assert text.startswith('{"__metadata__":{"format":"pt","source":"test"},'), text[:60]
    stripped = text.rstrip(" ")
    assert len(text) - len(stripped) < 8  # padded with spaces only up to the next multiple of 8
    assert ", " not in stripped and ": " not in stripped  # compact separators
    parsed = json.loads(stripped)
    names = [k for k in parsed if k != "__metadata__"]
    # Descending alignment (I64, F64 before F32 before F16 before U8), then by name.
    assert names == ["bn.num_batches_tracked", "double", "a.weight", "b.weight", "empty",
                     "half", "bytes"], names
    position = 0
    for name in names:
        begin, end = parsed[name]["data_offsets"]
        assert begin == position, name
        position = end
    assert position == len(buffer)
    assert parsed["bn.num_batches_tracked"] == {"dtype": "I64", "shape": [],
                                                "data_offsets": [0, 8]}
    assert struct.unpack("<q", buffer[0:8])[0] == 7
    begin = parsed["a.weight"]["data_offsets"][0]
    assert struct.unpack("<2f", buffer[begin:begin + 8]) == (1.5, -2.0)

    back, metadata = st.read_with_metadata(path)
    assert metadata == {"format": "pt", "source": "test"}
    for name, value in tensors.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape, name
        assert np.array_equal(back[name], value), name


def check_torch_and_bf16(d):
    import torch
    path = os.path.join(d, "torch.safetensors")
    t = {"w": torch.randn(3, 4).t(),  # non-contiguous view
         "bf": torch.tensor([1.0, -0.5, 3.0], dtype=torch.bfloat16),
         "n": torch.tensor(5)}
    st.write(path, t)
    n, header, _ = raw_header(path)
    assert not header.startswith(b'{"__metadata__"')
    back = st.read(path)
    assert np.array_equal(back["w"], t["w"].numpy())
    assert back["bf"].dtype == np.float32 and back["bf"].tolist() == [1.0, -0.5, 3.0]
    assert back["n"].dtype == np.int64 and int(back["n"]) == 5
    raw = st.RawTensor("BF16", [2], np.array([0x3FC0, 0xC000], dtype="<u2"))
    st.write(path, {"x": raw})
    assert st.read(path)["x"].tolist() == [1.5, -2.0]


def expect_error(path, fragment):
    try:
        st.read(path)
    except st.SafetensorsError as e:
        assert fragment in str(e), (fragment, str(e))
        return
    raise AssertionError(f"{path}: accepted, expected an error with {fragment!r}")


def write_raw(path, header_text, buffer=b""):
    data = header_text.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(data)) + data + buffer)


def check_rejections(d):
    p = os.path.join(d, "bad.safetensors")
    with open(p, "wb") as f:
        f.write(b"\x01\x02")
    expect_error(p, "shorter than 8")
    write_raw(p, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 8)
    expect_error(p, "buffer has 8 bytes")
    write_raw(p, '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4)
    expect_error(p, "do not match")
    write_raw(p, '{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4)
    expect_error(p, "unsupported dtype")
    write_raw(p, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                 '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8)
    expect_error(p, "duplicate")
    write_raw(p, ' {}')
    expect_error(p, "does not start")
    try:
        st.write(p, {"a": np.array(["x"])})
        raise AssertionError("string array accepted")
    except st.SafetensorsError:
        pass


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base) as d:
        check_layout(d)
        check_torch_and_bf16(d)
        check_rejections(d)
    print("test_safetensors_io: ok")


if __name__ == "__main__":
    main()
