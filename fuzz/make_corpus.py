#!/usr/bin/python3
"""Writes the seed corpus in fuzz/corpus/ (run: python3 fuzz/make_corpus.py; --check compares).

An encoder independent of include/resnet/io/safetensors.hpp: only struct and json. The
valid files follow the reference writer's layout (docs/spec.md 6.5: compact JSON, __metadata__
first, tensors in buffer order, header padded with spaces to a multiple of 8) unless the
file exists to test something else. File names say what the C++ reader must do:
valid_*   must parse (and every float tensor must read),
invalid_* must raise resnet::Error of the kind fuzz/expected_errors.txt gives (written
          here from KINDS; the C++ test test_fuzz_corpus checks it).
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
        "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64,
        "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}


def raw(header_bytes, data=b"", n=None):
    """Length prefix + header bytes as given (no padding) + data."""
    if isinstance(header_bytes, str):
        header_bytes = header_bytes.encode("utf-8")
    if n is None:
        n = len(header_bytes)
    return struct.pack("<Q", n) + header_bytes + data


def reference(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, data bytes) in buffer order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return raw(text, b"".join(t[3] for t in tensors))


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


FILES = {}

# ---- valid -----------------------------------------------------------------------------
FILES["valid_empty"] = reference([])
FILES["valid_empty_n2"] = raw("{}")
FILES["valid_scalar"] = reference([("s", "F32", [], f32(2.5))])
# Same tensors as the C++ writer test ("writer output equals an independent encoder").
FILES["valid_python_writer"] = reference(
    [("a.bias", "F32", [3], f32(0.5, -1.25, 3.0)),
     ("b.weight", "F32", [2, 2], f32(1.0, 2.0, -0.0, 1024.0)),
     ("empty", "F32", [0, 4], b""),
     ("scalar", "F32", [], f32(-7.5))],
    metadata={"format": "pt"})
FILES["valid_f16"] = reference([("h", "F16", [4], struct.pack("<4H", 0x3C00, 0xC000, 0x7BFF, 0x0001))])
FILES["valid_bf16"] = reference([("b", "BF16", [3], struct.pack("<3H", 0x3F80, 0xC040, 0x4049))])
FILES["valid_f64"] = reference([("d", "F64", [2], struct.pack("<2d", 1.0, -0.25))])
FILES["valid_i64_then_f32"] = reference(
    [("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
     ("bn.weight", "F32", [2], f32(1.0, 2.0))])
FILES["valid_zero_size_everywhere"] = raw(
    '{"z0":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},'
    '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
    '"z1":{"dtype":"F16","shape":[3,0],"data_offsets":[4,4]},'
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},'
    '"z2":{"dtype":"I64","shape":[0,0,0],"data_offsets":[8,8]}}', f32(1.0, 2.0))
FILES["valid_only_zero_size"] = raw('{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["valid_any_order"] = raw(
    '{"second":{"data_offsets":[4,8],"shape":[1],"dtype":"F32"},'
    '"first":{"shape":[1],"dtype":"F32","data_offsets":[0,4]}}', f32(1.0, 2.0))
# N odd: data starts at an odd file offset.
FILES["valid_unaligned"] = raw('{"u":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
                               f32(1.5, -2.0))
FILES["valid_whitespace"] = raw(
    '{ "t" : { "dtype" : "F32" ,\n"shape":[ 1 ],\t"data_offsets":[0 ,4] } }\r\n\t  ', f32(3.0))
FILES["valid_escaped_names"] = raw(
    '{"__metadata__":{"k\\"ey":"v\\\\al\\n\\u00e9"},'
    '"\\u00e9\\ud83d\\ude00\\/x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1.0))
FILES["valid_utf8_names"] = raw(
    '{"caf\u00e9.\u4e2d":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1.0))
FILES["valid_subbyte"] = raw(
    '{"f4":{"dtype":"F4","shape":[2],"data_offsets":[0,1]},'
    '"f6":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[1,4]}}', b"\x12\x34\x56\x78")
FILES["valid_all_dtypes"] = reference(
    [(name, name, [8], b"\x00" * bits) for name, bits in sorted(BITS.items())])
FILES["valid_metadata_empty"] = raw('{"__metadata__":{}}')

# ---- invalid ---------------------------------------------------------------------------
T1 = '"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
FILES["invalid_short_file"] = b"\x02\x00\x00"
FILES["invalid_n_past_end"] = raw("{}", n=40)
FILES["invalid_n_over_cap"] = struct.pack("<Q", 100_000_001)
FILES["invalid_n_max"] = b"\xff" * 8 + b"{}"
FILES["invalid_n_zero"] = raw("")
FILES["invalid_n_one"] = raw("{")
FILES["invalid_no_brace"] = raw('[{"a":1}]')
FILES["invalid_leading_space"] = raw(" {}     ")
FILES["invalid_bom"] = raw(b"\xef\xbb\xbf{}")
FILES["invalid_utf8_byte"] = raw(b'{"\xff":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_utf8_overlong"] = raw(b'{"\xc0\xaf":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_utf8_surrogate"] = raw(b'{"\xed\xa0\x80":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_utf8_truncated"] = raw(b'{"__metadata__":{"a":"\xe2\x82"}}')
FILES["invalid_trailing_garbage"] = raw("{}x")
FILES["invalid_trailing_nul"] = raw(b"{}\x00")
FILES["invalid_two_objects"] = raw("{}{}")
FILES["invalid_dup_top"] = raw("{" + T1 + "," + T1.replace("[0,4]", "[4,8]") + "}", f32(1, 2))
FILES["invalid_dup_escaped"] = raw(
    '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},'
    '"\\u0061":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_dup_in_tensor"] = raw(
    '{"t":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_dup_metadata"] = raw('{"__metadata__":{"a":"1","a":"2"}}')
FILES["invalid_dup_metadata_key"] = raw('{"__metadata__":{},"__metadata__":{}}')
FILES["invalid_metadata_number"] = raw('{"__metadata__":{"epoch":3}}')
FILES["invalid_metadata_null"] = raw('{"__metadata__":{"a":null}}')
FILES["invalid_metadata_nested"] = raw('{"__metadata__":{"a":{"b":"c"}}}')
FILES["invalid_metadata_string"] = raw('{"__metadata__":"pt"}')
FILES["invalid_unknown_dtype"] = raw('{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_lowercase_dtype"] = raw('{"t":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_negative_shape"] = raw('{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_minus_zero"] = raw('{"t":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}')
FILES["invalid_float_shape"] = raw('{"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_exponent_offset"] = raw('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4e0]}}', f32(1))
FILES["invalid_plus_sign"] = raw('{"t":{"dtype":"F32","shape":[+1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_leading_zero"] = raw('{"t":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_string_offset"] = raw('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}', f32(1))
FILES["invalid_offsets_one"] = raw('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4]}}', f32(1))
FILES["invalid_offsets_three"] = raw('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', f32(1, 2))
FILES["invalid_end_before_begin"] = raw('{"t":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', f32(1))
FILES["invalid_size_mismatch"] = raw('{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}', f32(1, 2, 3))
FILES["invalid_gap"] = raw(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', f32(1, 2, 3))
FILES["invalid_overlap"] = raw(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2))
FILES["invalid_first_not_zero"] = raw('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2))
FILES["invalid_trailing_bytes"] = raw("{" + T1 + "}", f32(1) + b"\x00")
FILES["invalid_buffer_without_tensors"] = raw("{}", b"\x00")
FILES["invalid_extra_member"] = raw(
    '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":0}}', f32(1))
FILES["invalid_missing_dtype"] = raw('{"t":{"shape":[1],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_missing_shape"] = raw('{"t":{"dtype":"F32","data_offsets":[0,4]}}', f32(1))
FILES["invalid_missing_offsets"] = raw('{"t":{"dtype":"F32","shape":[1]}}', f32(1))
FILES["invalid_tensor_not_object"] = raw('{"t":[1,2]}')
FILES["invalid_shape_overflow"] = raw(
    '{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}')
FILES["invalid_shape_overflow_with_zero"] = raw(
    '{"t":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}')
FILES["invalid_nbytes_overflow"] = raw(
    '{"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}')
FILES["invalid_int_over_64_bits"] = raw(
    '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551620]}}', f32(1))
FILES["invalid_subbyte_partial"] = raw('{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', b"\x00\x00")
FILES["invalid_truncated_data"] = reference([("t", "F32", [4], f32(1, 2, 3, 4))])[:-3]
FILES["invalid_truncated_header"] = reference([("t", "F32", [4], f32(1, 2, 3, 4))])[:30]
FILES["invalid_trailing_comma"] = raw('{"t":{"dtype":"F32","shape":[1,],"data_offsets":[0,4]}}', f32(1))
FILES["invalid_unterminated"] = raw('{"t":{"dtype":"F32')
FILES["invalid_control_char"] = raw('{"a\tb":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_lone_surrogate"] = raw('{"\\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_bad_escape"] = raw('{"\\x41":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}')
FILES["invalid_deep_nesting"] = raw('{"__metadata__":{"a":' + "[" * 200 + "]" * 200 + "}}")
FILES["invalid_literal"] = raw('{"t":true}')

# The resnet::ErrorKind (include/resnet/core/error.hpp, docs/trust.md) of each invalid file:
# sizes over a cap or past 64 bits are too_large, dtype names the reader does not know are
# unsupported_dtype, everything else breaks the format.
KINDS = {
    "invalid_n_over_cap": "too_large",
    "invalid_n_max": "too_large",
    "invalid_shape_overflow": "too_large",
    "invalid_shape_overflow_with_zero": "too_large",
    "invalid_nbytes_overflow": "too_large",
    "invalid_int_over_64_bits": "too_large",
    "invalid_unknown_dtype": "unsupported_dtype",
    "invalid_lowercase_dtype": "unsupported_dtype",
}
EXPECTED = os.path.join(HERE, "expected_errors.txt")


def expected_errors():
    """The text of fuzz/expected_errors.txt: `file kind` for every invalid file."""
    unknown = sorted(set(KINDS) - set(FILES))
    assert not unknown, f"KINDS names files that FILES lacks: {unknown}"
    lines = ["# Written by fuzz/make_corpus.py: the resnet::ErrorKind each invalid seed must raise."]
    lines += [f"{n}.safetensors {KINDS.get(n, 'format')}" for n in sorted(FILES) if n.startswith("invalid_")]
    return "\n".join(lines) + "\n"


def main():
    if "--check" in sys.argv[1:]:
        # ctest: the committed seeds must be exactly what this encoder writes.
        stale = [n for n, data in sorted(FILES.items())
                 if not os.path.exists(os.path.join(OUT, n + ".safetensors"))
                 or open(os.path.join(OUT, n + ".safetensors"), "rb").read() != data]
        extra = sorted(set(n[:-len(".safetensors")] for n in os.listdir(OUT)
                           if n.endswith(".safetensors")) - set(FILES))
        for n in stale:
            print(f"differs from the encoder: {n}.safetensors")
        for n in extra:
            print(f"not written by the encoder: {n}.safetensors")
        kinds_stale = not os.path.exists(EXPECTED) or open(EXPECTED).read() != expected_errors()
        if kinds_stale:
            print(f"differs from KINDS: {EXPECTED}")
        print(f"{len(FILES) - len(stale)} passed, {len(stale) + len(extra) + kinds_stale} failed")
        sys.exit(1 if stale or extra or kinds_stale else 0)
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".safetensors"):
            os.remove(os.path.join(OUT, name))
    for name, data in sorted(FILES.items()):
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
    with open(EXPECTED, "w") as f:
        f.write(expected_errors())
    print(f"wrote {len(FILES)} files to {OUT} and {EXPECTED}")


if __name__ == "__main__":
    main()
