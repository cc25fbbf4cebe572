#!/usr/bin/python3
"""Write the hostile importer corpus into OUT_DIR; every file must be
rejected by alcm-pack (exit 2, no output). CANARY is a path that a pickle
would create if anything in it were executed; the test checks it never
appears. Usage: make_hostile.py OUT_DIR CANARY
"""
import io
import os
import struct
import sys
import zipfile

import numpy as np


def torch_zip(path, pkl, storages=None):
    """A zip laid out as torch.save writes it, with pickle bytes pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in (storages or {}).items():
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", "3\n")


def s(text):  # SHORT_BINUNICODE
    b = text.encode()
    return b"\x8c" + bytes([len(b)]) + b


def main(out, canary):
    os.makedirs(out, exist_ok=True)
    cmd = "touch " + canary
    P = b"\x80\x02"
    cases = {
        # GLOBAL + REDUCE of os.system / builtins.eval / builtins.__import__
        "global_os_system.pt": P + b"cos\nsystem\n" + s(cmd) + b"\x85R.",
        "global_eval.pt": P + b"cbuiltins\neval\n" + s("__import__('os').system('%s')" % cmd) + b"\x85R.",
        "global_import.pt": P + b"cbuiltins\n__import__\n" + s("os") + b"\x85R.",
        "stack_global_system.pt": b"\x80\x04" + s("os") + s("system") + b"\x93" + s(cmd) + b"\x85R.",
        "stack_global_posix.pt": b"\x80\x04" + s("posix") + s("system") + b"\x93" + s(cmd) + b"\x85R.",
        "inst_system.pt": b"(" + b"X" + struct.pack("<I", len(cmd)) + cmd.encode() + b"ios\nsystem\n.",
        "obj_system.pt": P + b"(cos\nsystem\n" + s(cmd) + b"o.",
        "setitem_non_dict.pt": P + b"]" + s("k") + s("v") + b"s.",
        "setitems_non_dict.pt": P + b")(" + s("k") + s("v") + b"u.",
        "reduce_storage_class.pt": P + b"ctorch\nFloatStorage\n)R.",
        "memo_get_missing.pt": P + b"h\x05.",
        "truncated.pt": P + b"}(" + s("a"),
        "deep_marks.pt": P + b"(" * 100000 + b".",
    }
    for name, pkl in cases.items():
        torch_zip(os.path.join(out, name), pkl)

    # A storage smaller than its declared numel, and a view past its end.
    def rebuild(numel, shape, stride, offset=0):
        pid = b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s("0") + s("cpu") + \
              b"J" + struct.pack("<i", numel) + b"tQ"
        shp = b"(" + b"".join(b"K" + bytes([d]) for d in shape) + b"t"
        st = b"(" + b"".join(b"K" + bytes([d]) for d in stride) + b"t"
        return (P + b"}" + s("w") + b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid +
                b"K" + bytes([offset]) + shp + st + b"\x89ccollections\nOrderedDict\n)RtRs.")
    torch_zip(os.path.join(out, "storage_short.pt"), rebuild(16, [4, 4], [4, 1]),
              {"0": b"\0" * 32})
    torch_zip(os.path.join(out, "view_past_storage.pt"), rebuild(16, [4, 4], [4, 1], 3),
              {"0": b"\0" * 64})
    torch_zip(os.path.join(out, "storage_missing.pt"), rebuild(16, [4, 4], [4, 1]))

    # .npy: object dtype, oversized header
    with open(os.path.join(out, "object.npy"), "wb") as f:
        np.save(f, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with open(os.path.join(out, "huge_header.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x02\x00" + struct.pack("<I", 0x7FFFFFF0) + b"{")

    # zip: overlapping members, and a bomb claiming a huge size
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        b1 = io.BytesIO(); np.save(b1, np.zeros(4)); z.writestr("a.npy", b1.getvalue())
        z.writestr("b.npy", b1.getvalue())
    data = bytearray(buf.getvalue())
    cd = data.rfind(b"PK\x01\x02")  # second central record -> point at first
    struct.pack_into("<I", data, cd + 42, 0)
    with open(os.path.join(out, "overlap.npz"), "wb") as f:
        f.write(data)
    small = io.BytesIO(); np.save(small, np.zeros(50, dtype="u1"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.npy", small.getvalue() + b"\0" * (8 << 20))
    data = bytearray(buf.getvalue())
    for sig, off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(sig)
        struct.pack_into("<I", data, at + off, 0xFFFFFFF0)
    with open(os.path.join(out, "bomb_declared.npz"), "wb") as f:
        f.write(data)
    # honest declared size but the stream inflates past it
    data = bytearray(buf.getvalue())
    for sig, off in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = data.find(sig)
        struct.pack_into("<I", data, at + off, len(small.getvalue()))
    with open(os.path.join(out, "bomb_inflate.npz"), "wb") as f:
        f.write(data)
    with zipfile.ZipFile(os.path.join(out, "bad_name.npz"), "w") as z:
        z.writestr("../evil.npy", b1.getvalue())

    # safetensors: overlap, gap, shape-product overflow
    def st(header, data):
        h = header.encode()
        return struct.pack("<Q", len(h)) + h + data
    tensors = {
        "st_overlap.safetensors": st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                     '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', b"\0" * 12),
        "st_gap.safetensors": st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                 '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', b"\0" * 12),
        "st_overflow.safetensors": st('{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],'
                                      '"data_offsets":[0,4]}}', b"\0" * 4),
    }
    for name, b in tensors.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
