#!/usr/bin/python3
"""Writes the PyTorch-checkpoint seed corpus in fuzz/corpus-pth/ and fuzz/expected_errors_pth.txt
(run: python3 fuzz/make_corpus_pth.py; --check compares).

An encoder independent of include/resnet/io/: only struct and zlib. It writes pickles
opcode by opcode the way torch.save does (protocol 2, pth_format.md section c), the zip
layout torch writes (stored entries in one archive folder, zip64 end records) and the
legacy stream (magic, protocol, sys_info, state dict, storage keys, storages). The
checkpoints torch itself writes are tested from tests/python/gen_torch_checkpoints.py;
these files are small, so the fuzzer can mutate them. File names say what the C++ reader
must do: valid_* must open (and every float tensor must read), invalid_* must raise
resnet::Error of the kind written to expected_errors_pth.txt.
"""

import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus-pth")
KINDS_FILE = os.path.join(HERE, "expected_errors_pth.txt")

MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"
PROTOCOL = b"\x80\x02\x4d\xe9\x03\x2e"
SIZES = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8}


# ---- pickle opcodes ----

def s(text):
    b = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def i(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)


def tup(values):
    return b"(" + b"".join(i(v) for v in values) + b"t"


def ordered_dict():
    return glob("collections", "OrderedDict") + b")R"


def pid(storage, key, numel, legacy):
    return (b"(" + s("storage") + glob("torch", storage) + s(key) + s("cpu") + i(numel) +
            (b"N" if legacy else b"") + b"tQ")


def tensor(storage, key, numel, offset, size, stride, legacy=False):
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid(storage, key, numel, legacy) +
            i(offset) + tup(size) + tup(stride) + b"\x89" + ordered_dict() + b"tR")


def state_dict(entries, wrap=None):
    """entries: list of (name, pickled value). wrap: outer key to nest under, or None."""
    body = ordered_dict() + b"(" + b"".join(s(k) + v for k, v in entries) + b"u"
    if wrap:
        body = b"}(" + s("epoch") + i(3) + s(wrap) + body + b"u"
    return b"\x80\x02" + body + b"."


# ---- containers ----

def zip_archive(files, folder="archive/", zip64=True, lie=None):
    """files: list of (name, bytes), stored. lie: a dict of fields to falsify."""
    lie = lie or {}
    out = bytearray()
    central = bytearray()
    for name, data in files:
        full = (folder + name).encode()
        offset = len(out)
        crc = zlib.crc32(data) & 0xFFFFFFFF
        pad = (-(len(out) + 30 + len(full) + 4)) % 64  # torch aligns data to 64 bytes
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0, crc, len(data), len(data),
                           len(full), len(extra)) + full + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, lie.get("method", 0), 0, 0, crc,
                               len(data), len(data), len(full), 0, 0, 0, 0, 0, offset) + full
    count = lie.get("count", len(files))
    cd_offset, cd_size = len(out), len(central)
    out += central
    if zip64:
        record = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, count, count, cd_size,
                           lie.get("zip64_cd_offset", cd_offset))
        out += struct.pack("<IIQI", 0x07064b50, 0, record, 1)
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, count, count, cd_size, cd_offset, 0)
    return bytes(out)


def zip_checkpoint(pickle, storages, **kw):
    """storages: list of (key, bytes)."""
    return zip_archive([("data.pkl", pickle)] + [("data/" + k, b) for k, b in storages] +
                       [("version", b"3\n")], **kw)


def legacy_checkpoint(pickle, storages, little=True, keys=None):
    """storages: list of (key, element count, bytes) in key-list order."""
    sys_info = (b"\x80\x02}(" + s("protocol_version") + i(1001) + s("little_endian") +
                (b"\x88" if little else b"\x89") + s("type_sizes") + b"}(" + s("short") + i(2) +
                s("int") + i(4) + s("long") + i(4) + b"uu.")
    key_list = b"\x80\x02](" + b"".join(s(k) for k in (keys if keys is not None else [k for k, _, _ in storages])) + b"e."
    out = MAGIC + PROTOCOL + sys_info + pickle + key_list
    for _, n, data in storages:
        out += struct.pack("<q", n) + data
    return out


def f32(values):
    return struct.pack("<%df" % len(values), *values)


# ---- the corpus ----

def small(legacy=False, wrap=None, prefix=""):
    """A small state dict: an F32 weight [2, 3], an F16 bias, a BF16 and an F64 vector, a
    tensor at an offset into its storage, a transposed (non-contiguous) view and a LongStorage
    scalar (num_batches_tracked)."""
    entries = [
        (prefix + "conv.weight", tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1], legacy)),
        (prefix + "conv.bias", tensor("HalfStorage", "1", 2, 0, [2], [1], legacy)),
        (prefix + "bn.weight", tensor("BFloat16Storage", "2", 2, 0, [2], [1], legacy)),
        (prefix + "bn.bias", tensor("DoubleStorage", "3", 2, 0, [2], [1], legacy)),
        (prefix + "fc.bias", tensor("FloatStorage", "4", 5, 2, [3], [1], legacy)),
        (prefix + "fc.weight", tensor("FloatStorage", "0", 6, 0, [3, 2], [1, 3], legacy)),
        (prefix + "bn.num_batches_tracked", tensor("LongStorage", "5", 1, 0, [], [], legacy)),
    ]
    storages = [("0", 6, f32([1, 2, 3, 4, 5, 6])), ("1", 2, struct.pack("<2e", 0.5, -2.0)),
                ("2", 2, b"\x80\x3f\x00\xc0"), ("3", 2, struct.pack("<2d", 0.25, 1e300)),
                ("4", 5, f32([9, 9, 7, 8, 9])), ("5", 1, struct.pack("<q", 42))]
    pickle = state_dict(entries, wrap)
    if legacy:
        return legacy_checkpoint(pickle, storages)
    return zip_checkpoint(pickle, [(k, b) for k, _, b in storages])


def one_tensor(numel, offset, size, stride, data, legacy=False):
    pickle = state_dict([("w", tensor("FloatStorage", "0", numel, offset, size, stride, legacy))])
    if legacy:
        return legacy_checkpoint(pickle, [("0", numel, data)])
    return zip_checkpoint(pickle, [("0", data)])


def raw_pickle(body):
    """A zip checkpoint whose data.pkl is `body` (protocol 2 header added)."""
    return zip_checkpoint(b"\x80\x02" + body, [])


def cases():
    valid = {
        "valid_zip": small(),
        "valid_legacy": small(legacy=True),
        "valid_nested_state_dict": small(wrap="state_dict", prefix="module."),
        "valid_nested_model_legacy": small(legacy=True, wrap="model"),
        "valid_no_zip64": zip_checkpoint(state_dict([("w", tensor("FloatStorage", "0", 2, 0, [2], [1]))]),
                                         [("0", f32([1, 2]))], zip64=False),
        "valid_empty_state_dict": zip_checkpoint(state_dict([]), []),
        "valid_parameter": zip_checkpoint(
            b"\x80\x02" + ordered_dict() + b"(" + s("w") + glob("torch._utils", "_rebuild_parameter") + b"(" +
            tensor("FloatStorage", "0", 1, 0, [1], [1]) + b"\x88" + ordered_dict() + b"tR" + b"u.",
            [("0", f32([3]))]),
        # The memo may make a value hold itself, or a tuple of 2^40 leaves: values are shared, not copied.
        "valid_memo_cycle": zip_checkpoint(
            b"\x80\x02" + ordered_dict() + b"(" + s("loop") + b"]q\x00h\x00a" + s("w") +
            tensor("FloatStorage", "0", 1, 0, [1], [1]) + b"u.", [("0", f32([3]))]),
        "valid_memo_dag": zip_checkpoint(
            b"\x80\x02" + ordered_dict() + b"(" + s("dag") + b"Nq\x00" + b"h\x00h\x00\x86q\x00" * 40 + b"u.", []),
    }
    good = one_tensor(4, 0, [2, 2], [2, 1], f32([1, 2, 3, 4]))
    invalid = {}

    def bad(name, kind, data):
        invalid[name] = (kind, data)

    # Containers.
    bad("invalid_empty", "format", b"")
    bad("invalid_tar", "format", b"x" * 257 + b"ustar\x0000" + b"\0" * 250)
    bad("invalid_hdf5", "format", b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    bad("invalid_bare_pickle", "format", b"\x80\x02}q\x00.")
    bad("invalid_torchscript", "format", zip_archive([("data.pkl", state_dict([])), ("constants.pkl", b"\x80\x02)."),
                                                     ("code/m.py", b"import os\n")]))
    bad("invalid_big_endian_legacy", "format", legacy_checkpoint(state_dict([]), [], little=False))
    bad("invalid_big_endian_zip", "format", zip_archive([("data.pkl", state_dict([])), ("byteorder", b"big")]))
    bad("invalid_no_data_pkl", "format", zip_archive([("version", b"3\n")]))
    bad("invalid_outside_folder", "format", zip_archive([("archive/data.pkl", state_dict([])), ("other/x", b"1")],
                                                        folder=""))
    bad("invalid_dot_dot", "format", zip_archive([("data.pkl", state_dict([])), ("../evil", b"1")]))
    bad("invalid_duplicate_entry", "format", zip_archive([("data.pkl", state_dict([])), ("data.pkl", state_dict([]))]))
    bad("invalid_deflated", "format", zip_archive([("data.pkl", state_dict([]))], lie={"method": 8}))
    bad("invalid_zip64_count", "format", zip_archive([("data.pkl", state_dict([]))], lie={"count": 2}))
    bad("invalid_zip64_offset", "format", zip_archive([("data.pkl", state_dict([]))], lie={"zip64_cd_offset": 3}))
    bad("invalid_zip64_huge_count", "too_large", zip_archive([("data.pkl", state_dict([]))], lie={"count": 2**40}))
    bad("invalid_zip_truncated", "format", good[:len(good) - 30])
    bad("invalid_crc", "format", good.replace(b"\x80\x02\x63", b"\x80\x03\x63", 1))
    # Storages and views.
    bad("invalid_missing_storage", "format", zip_checkpoint(state_dict([("w", tensor("FloatStorage", "0", 1, 0, [1], [1]))]), []))
    bad("invalid_storage_size_lie", "format", one_tensor(4, 0, [2, 2], [2, 1], f32([1, 2, 3])))
    bad("invalid_view_past_storage", "format", one_tensor(4, 1, [2, 2], [2, 1], f32([1, 2, 3, 4])))
    bad("invalid_stride_past_storage", "format", one_tensor(4, 0, [2, 2], [3, 1], f32([1, 2, 3, 4])))
    bad("invalid_expanded_view", "format", one_tensor(1, 0, [4], [0], f32([1])))
    bad("invalid_numel_overflow", "too_large", one_tensor(4, 0, [2**32, 2**32], [1, 1], f32([1, 2, 3, 4])))
    bad("invalid_extent_overflow", "too_large", one_tensor(8, 0, [3, 2], [2**63 - 1, 2**63 - 1], f32(range(8))))
    bad("invalid_storage_overflow", "too_large", one_tensor(2**62, 0, [1], [1], f32([1])))
    bad("invalid_legacy_count_lie", "format", legacy_checkpoint(
        state_dict([("w", tensor("FloatStorage", "0", 2, 0, [2], [1], True))]), [("0", 3, f32([1, 2, 3]))]))
    bad("invalid_legacy_truncated", "format", one_tensor(4, 0, [2, 2], [2, 1], f32([1, 2, 3, 4]), legacy=True)[:-1])
    bad("invalid_legacy_trailing", "format", one_tensor(4, 0, [2, 2], [2, 1], f32([1, 2, 3, 4]), legacy=True) + b"\0")
    bad("invalid_legacy_key_missing", "format", legacy_checkpoint(
        state_dict([("w", tensor("FloatStorage", "0", 1, 0, [1], [1], True))]), [("0", 1, f32([1]))], keys=[]))
    bad("invalid_legacy_key_twice", "format", legacy_checkpoint(
        state_dict([("w", tensor("FloatStorage", "0", 1, 0, [1], [1], True))]), [("0", 1, f32([1])), ("0", 1, f32([1]))]))
    bad("invalid_duplicate_tensor", "format", zip_checkpoint(
        state_dict([("w", tensor("FloatStorage", "0", 1, 0, [1], [1])), ("w", tensor("FloatStorage", "0", 1, 0, [1], [1]))]),
        [("0", f32([1]))]))
    bad("invalid_storage_type_clash", "format", zip_checkpoint(
        state_dict([("a", tensor("FloatStorage", "0", 2, 0, [1], [1])), ("b", tensor("HalfStorage", "0", 4, 0, [1], [1]))]),
        [("0", f32([1, 2]))]))
    # Pickles.
    bad("invalid_global_os_system", "format", raw_pickle(glob("os", "system") + s("echo pwned") + b"\x85R."))
    bad("invalid_global_eval", "format", raw_pickle(glob("builtins", "eval") + s("1") + b"\x85R."))
    bad("invalid_global_posix", "format", raw_pickle(glob("posix", "system") + b"."))
    bad("invalid_reduce_storage", "format", raw_pickle(glob("torch", "FloatStorage") + b")R."))
    bad("invalid_reduce_args", "format", raw_pickle(glob("collections", "OrderedDict") + s("x") + b"\x85R."))
    bad("invalid_opcode_inst", "format", raw_pickle(b"ios\nsystem\n(S'ls'\nt."))
    bad("invalid_opcode_stack_global", "format", raw_pickle(b"\x8c\x02os\x8c\x06system\x93."))
    bad("invalid_opcode_memoize", "format", raw_pickle(b"}\x94."))
    bad("invalid_stack_underflow", "format", raw_pickle(b"s."))
    bad("invalid_underflow_past_mark", "format", raw_pickle(b"}(K\x01s."))
    bad("invalid_stop_empty", "format", raw_pickle(b"."))
    bad("invalid_stop_two_values", "format", raw_pickle(b"}}."))
    bad("invalid_no_stop", "format", raw_pickle(b"}"))
    bad("invalid_memo_undefined", "format", raw_pickle(b"}h\x07."))
    bad("invalid_memo_long_undefined", "format", raw_pickle(b"}j\xff\xff\xff\xff."))
    bad("invalid_deep_marks", "too_large", raw_pickle(b"(" * 65 + b"."))
    bad("invalid_long1_too_long", "too_large", raw_pickle(b"\x8a\x09" + b"\x01" * 9 + b"."))
    bad("invalid_string_past_end", "format", raw_pickle(b"X\xff\xff\x00\x00abc"))
    bad("invalid_string_too_long", "too_large", raw_pickle(b"X\xff\xff\xff\x7fabc"))
    bad("invalid_bad_utf8", "format", raw_pickle(b"X\x02\x00\x00\x00\xc3\x28."))
    bad("invalid_setitem_on_list", "format", raw_pickle(b"]K\x01K\x02s."))
    bad("invalid_append_on_dict", "format", raw_pickle(b"}K\x01a."))
    bad("invalid_build_on_dict", "format", raw_pickle(b"}}b."))
    bad("invalid_persid_not_storage", "format", raw_pickle(s("x") + b"Q."))
    bad("invalid_persid_legacy_in_zip", "format", raw_pickle(pid("FloatStorage", "0", 1, True) + b"."))
    bad("invalid_not_a_dict", "format", raw_pickle(b"]."))
    bad("invalid_rebuild_arity", "format", raw_pickle(glob("torch._utils", "_rebuild_tensor_v2") + b")R."))
    bad("invalid_negative_size", "format", zip_checkpoint(
        state_dict([("w", glob("torch._utils", "_rebuild_tensor_v2") + b"(" + pid("FloatStorage", "0", 1, False) +
                     i(0) + b"(J\xff\xff\xff\xfft" + tup([1]) + b"\x89" + ordered_dict() + b"tR")]),
        [("0", f32([1]))]))
    bad("invalid_protocol_1", "format", zip_checkpoint(b"\x80\x01}.", []))
    return valid, invalid


def main():
    check = "--check" in sys.argv[1:]
    valid, invalid = cases()
    files = dict(valid)
    files.update({k: v[1] for k, v in invalid.items()})
    kinds = "# file kind: the resnet::ErrorKind the C++ reader must throw (written by make_corpus_pth.py)\n"
    kinds += "".join("%s.pth %s\n" % (k, invalid[k][0]) for k in sorted(invalid))
    if check:
        ok = open(KINDS_FILE).read() == kinds
        for name, data in files.items():
            path = os.path.join(OUT, name + ".pth")
            ok = ok and os.path.exists(path) and open(path, "rb").read() == data
        ok = ok and sorted(os.listdir(OUT)) == sorted(n + ".pth" for n in files)
        print("corpus-pth matches" if ok else "corpus-pth differs from make_corpus_pth.py: run it")
        return 0 if ok else 1
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(os.path.join(OUT, old))
    for name, data in files.items():
        with open(os.path.join(OUT, name + ".pth"), "wb") as f:
            f.write(data)
    with open(KINDS_FILE, "w") as f:
        f.write(kinds)
    print("wrote %d files to %s" % (len(files), OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
