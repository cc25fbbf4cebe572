#!/usr/bin/python3
"""Write the importer test inputs with the real libraries (Debian
python3-numpy, python3-torch) into OUT_DIR:

  npy/      np.save of every supported dtype and layout (C, Fortran, 0-d,
            empty, big-endian, NaN payloads)
  npz/      np.savez and np.savez_compressed of the same arrays
  pt/       torch.save of a small CNN and a small transformer block
            state_dict, plus tied weights (shared storage) and views (a
            transposed tensor, a slice with an offset)
  folder/   a model folder: sharded safetensors + model.safetensors.index.json,
            config.json, tokenizer.json, README.md, a .pt and a .npz

Deterministic (fixed seeds). Usage: make_inputs.py OUT_DIR
"""
import json
import os
import struct
import sys

import numpy as np
import torch


def arrays():
    rng = np.random.default_rng(7)
    out = {}
    for dt in ["bool", "u1", "i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8",
               "<f2", "<f4", "<f8"]:
        a = (rng.standard_normal((3, 5)) * 100).astype(dt)
        out["c_" + dt.strip("<")] = a
    out["fortran_f4"] = np.asfortranarray(rng.standard_normal((4, 6)).astype("<f4"))
    out["scalar_f8"] = np.array(3.25)
    out["empty_f4"] = np.zeros((0, 7), dtype="<f4")
    out["big_i4"] = np.arange(12, dtype=">i4").reshape(3, 4)
    out["big_f8"] = rng.standard_normal(9).astype(">f8")
    nan = np.array([0x7FC00001, 0xFFC12345, 0x7F800001, 0x00000001], dtype="<u4")
    out["nan_payload_f4"] = nan.view("<f4")
    out["r4"] = rng.standard_normal((2, 3, 4, 5)).astype("<f4")
    return out


def safetensors_bytes(tensors):
    header, blobs, at = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        dt = {"float32": "F32", "float16": "F16", "int64": "I64"}[a.dtype.name]
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3)
        self.fc = torch.nn.Linear(16, 10)


class Block(torch.nn.Module):
    def __init__(self, d=32, vocab=50):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d)
        self.attn = torch.nn.MultiheadAttention(d, 4)
        self.ln1 = torch.nn.LayerNorm(d)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(),
                                       torch.nn.Linear(4 * d, d))
        self.ln2 = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied


def main(out):
    for sub in ["npy", "npz", "pt", "folder/sub"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    arrs = arrays()
    for name, a in arrs.items():
        np.save(os.path.join(out, "npy", name + ".npy"), a)
    np.savez(os.path.join(out, "npz", "plain.npz"), **arrs)
    np.savez_compressed(os.path.join(out, "npz", "compressed.npz"), **arrs)
    np.savez(os.path.join(out, "npz", "positional.npz"), arrs["r4"], arrs["c_i8"])

    torch.manual_seed(0)
    torch.save(CNN().state_dict(), os.path.join(out, "pt", "cnn.pt"))
    blk = Block()
    torch.save(blk.state_dict(), os.path.join(out, "pt", "block.pt"))
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    views = {
        "base": base,
        "transposed": base.t(),
        "slice": base[2:5, 3:8],
        "row": base[4],
        "half": torch.randn(5, 3).half(),
        "bf16": torch.randn(4, 4).bfloat16(),
        "ints": torch.arange(7, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "nested": {"a": torch.ones(2, 2), "list": [torch.zeros(3), torch.ones(1)]},
    }
    torch.save(views, os.path.join(out, "pt", "views.pt"))

    f = os.path.join(out, "folder")
    rng = np.random.default_rng(3)
    shards = [
        {"model.embed.weight": rng.standard_normal((16, 8)).astype(np.float32),
         "model.norm.weight": np.ones(8, dtype=np.float16)},
        {"lm_head.weight": rng.standard_normal((16, 8)).astype(np.float32),
         "step": np.array([1234], dtype=np.int64)},
    ]
    weight_map = {}
    for i, t in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        with open(os.path.join(f, fname), "wb") as fh:
            fh.write(safetensors_bytes(t))
        for k in t:
            weight_map[k] = fname
    with open(os.path.join(f, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": 1}, "weight_map": weight_map}, fh,
                  indent=2)
    with open(os.path.join(f, "config.json"), "w") as fh:
        json.dump({"architectures": ["Tiny"], "hidden_size": 8}, fh, indent=2)
    with open(os.path.join(f, "tokenizer.json"), "w") as fh:
        json.dump({"version": "1.0", "model": {"vocab": {"a": 0, "b": 1}}}, fh)
    with open(os.path.join(f, "README.md"), "w") as fh:
        fh.write("# tiny test model\n")
    torch.save(CNN().state_dict(), os.path.join(f, "sub", "extra.bin"))
    np.savez_compressed(os.path.join(f, "sub", "stats.npz"), mean=arrs["c_f4"])
    np.save(os.path.join(f, "sub", "bias.npy"), arrs["c_f8"])


if __name__ == "__main__":
    main(sys.argv[1])
