#!/usr/bin/python3
"""Comparisons for roundtrip.sh, with the real libraries.
  check.py npz A B         same members, dtypes, shapes, order, bits
  check.py pt A B          torch.load both: torch.equal, strides, offsets,
                           storage sharing
  check.py st FILE N       a safetensors file with N tensors that loads
  check.py npy-vs-pt NPY PT KEY   the .npy equals state_dict[KEY]
"""
import json
import struct
import sys

import numpy as np


def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes(order="A"), a.flags.f_contiguous


def npz(a, b):
    x, y = np.load(a), np.load(b)
    assert x.files == y.files, (x.files, y.files)
    for k in x.files:
        assert bits(x[k]) == bits(y[k]), k


def flat(obj, prefix=""):
    import torch
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from flat(v, prefix + "." + str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from flat(v, prefix + "." + str(i))


def pt(a, b):
    import torch
    x = dict(flat(torch.load(a)))
    y = dict(flat(torch.load(b)))
    assert list(x) == list(y)
    ptr_x, ptr_y = {}, {}
    for k in x:
        s, t = x[k], y[k]
        assert s.dtype == t.dtype and s.shape == t.shape and s.stride() == t.stride(), k
        assert s.storage_offset() == t.storage_offset(), k
        assert torch.equal(s.view(-1).view(torch.uint8) if s.dim() else s.reshape(1).view(torch.uint8),
                           t.view(-1).view(torch.uint8) if t.dim() else t.reshape(1).view(torch.uint8)) \
            if s.is_contiguous() else torch.equal(s, t), k
        ptr_x.setdefault(s.storage().data_ptr(), []).append(k)
        ptr_y.setdefault(t.storage().data_ptr(), []).append(k)
    assert sorted(ptr_x.values()) == sorted(ptr_y.values()), "storage sharing differs"


def st(path, n):
    d = open(path, "rb").read()
    h = json.loads(d[8:8 + struct.unpack("<Q", d[:8])[0]])
    assert len(h) == int(n), h.keys()
    end = max(v["data_offsets"][1] for v in h.values())
    assert 8 + struct.unpack("<Q", d[:8])[0] + end == len(d)


def npy_vs_pt(npy, ptfile, key):
    import torch
    t = torch.load(ptfile)[key]
    a = np.load(npy)
    assert a.shape == tuple(t.shape) and np.array_equal(a.view(np.uint8), t.numpy().view(np.uint8))


if __name__ == "__main__":
    {"npz": npz, "pt": pt, "st": st, "npy-vs-pt": npy_vs_pt}[sys.argv[1]](*sys.argv[2:])
