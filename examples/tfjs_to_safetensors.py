#!/usr/bin/python3
"""Convert a TensorFlow.js graph/layers model (model.json + .bin shards) to
one safetensors file.

Run with the Debian interpreter, which has numpy:

    /usr/bin/python3 examples/tfjs_to_safetensors.py MODEL.json -o OUT.safetensors
        [--dtype f32|f16|bf16] [--source TEXT] [--dequantize-affine]

Only numpy and the standard library are used.

Input (tfjs "weightsManifest"): a list of groups; each group names its shard
files ("paths", relative to model.json) and its weights in the order their
bytes follow one another in the concatenated shards. A weight has a name, a
shape, a dtype (float32, int32, bool) and optionally a "quantization" entry:
  - float16: the stored values are IEEE binary16; widening them to float32 is
    exact, so they are converted.
  - uint8/uint16: affine quantization (value = q * scale + min). That is not
    the trained float32 value but an approximation, so it is rejected unless
    --dequantize-affine is given.
Anything else (string, complex64, unknown quantization) is rejected with a
message naming the weight.

Output: the safetensors layout,
  u64 little-endian N | N bytes of JSON header (padded with spaces to a
  multiple of 8) | data
The header maps each tensor name to {"dtype", "shape", "data_offsets":
[begin, end]} (offsets relative to the start of the data), listed in offset
order; tensors are laid out in name order with no gaps, and "__metadata__"
carries {"source": ...}. The output is a pure function of the input, so
running the program twice gives identical files.

--dtype converts floating-point tensors only (integers and bools are kept):
  f16  IEEE binary16, round to nearest even (numpy), NaN stays NaN;
  bf16 upper 16 bits of the float32, rounded to nearest even on the uint32
       bits; NaN stays NaN (quiet bit forced so that truncation cannot turn
       a NaN into an infinity).
"""

import argparse
import json
import os
import sys

import numpy as np

TFJS_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"),
               "bool": np.dtype("u1")}
ST_NAME = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32",
           np.dtype("u1"): "BOOL", np.dtype("<f2"): "F16"}


class ConvertError(Exception):
    pass


def f32_to_bf16_bits(a):
    """float32 array -> uint16 array of bfloat16 bits (round to nearest even)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    rounded = ((u + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)
    is_nan = np.isnan(np.asarray(a, dtype=np.float32))
    nan_bits = ((u >> np.uint64(16)).astype(np.uint16)) | np.uint16(0x0040)
    return np.where(is_nan, nan_bits, rounded).astype("<u2")


def numel_of(shape, name):
    n = 1
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool) or d < 0:
            raise ConvertError("weight '%s': bad dimension %r in shape %r"
                               % (name, d, shape))
        n *= d
    return n


def decode_weight(w, buf, pos, dequantize_affine):
    """Decode one manifest weight starting at buf[pos]. Returns (array, pos)."""
    name = w.get("name")
    if not isinstance(name, str) or not name:
        raise ConvertError("weight without a name at shard offset %d" % pos)
    shape = w.get("shape")
    if not isinstance(shape, list):
        raise ConvertError("weight '%s': shape is not a list" % name)
    n = numel_of(shape, name)
    dtype = w.get("dtype")
    if dtype not in TFJS_DTYPES:
        raise ConvertError("weight '%s': dtype %r is not supported "
                           "(float32, int32, bool)" % (name, dtype))
    q = w.get("quantization")
    if q is None:
        store = TFJS_DTYPES[dtype]
    else:
        qd = q.get("dtype")
        if qd == "float16" and dtype == "float32":
            store = np.dtype("<f2")
        elif qd in ("uint8", "uint16"):
            if not dequantize_affine:
                raise ConvertError(
                    "weight '%s': %s affine quantization (q*scale+min) is "
                    "lossy; pass --dequantize-affine to expand it anyway"
                    % (name, qd))
            store = np.dtype("u1" if qd == "uint8" else "<u2")
        else:
            raise ConvertError("weight '%s': quantization %r of dtype %r is "
                               "not supported" % (name, qd, dtype))
    size = n * store.itemsize
    if size > len(buf) - pos:
        raise ConvertError("weight '%s': needs %d bytes at shard offset %d, "
                           "only %d left" % (name, size, pos, len(buf) - pos))
    raw = np.frombuffer(buf, dtype=store, count=n, offset=pos)
    pos += size
    if q is None:
        arr = raw.copy()
    elif store == np.dtype("<f2"):
        arr = raw.astype("<f4")
    else:
        scale = np.float32(q["scale"])
        lo = np.float32(q.get("min", 0.0))
        arr = (raw.astype(np.float32) * scale + lo).astype(TFJS_DTYPES[dtype])
    return arr.reshape(shape), pos


def read_model(model_path, dequantize_affine):
    with open(model_path, "rb") as f:
        model = json.load(f)
    manifest = model.get("weightsManifest")
    if not isinstance(manifest, list) or not manifest:
        raise ConvertError("%s: no weightsManifest" % model_path)
    base = os.path.dirname(os.path.abspath(model_path))
    tensors = {}
    for gi, group in enumerate(manifest):
        parts = []
        for p in group.get("paths", []):
            if os.path.isabs(p) or ".." in p.split("/"):
                raise ConvertError("group %d: unsafe shard path %r" % (gi, p))
            with open(os.path.join(base, p), "rb") as f:
                parts.append(f.read())
        buf = b"".join(parts)
        pos = 0
        for w in group.get("weights", []):
            arr, pos = decode_weight(w, buf, pos, dequantize_affine)
            if w["name"] in tensors or w["name"] == "__metadata__":
                raise ConvertError("weight '%s' appears twice" % w["name"])
            tensors[w["name"]] = arr
        if pos != len(buf):
            raise ConvertError("group %d: %d shard bytes left after the last "
                               "weight" % (gi, len(buf) - pos))
    return tensors


def convert_dtype(arr, want):
    if arr.dtype != np.dtype("<f4") or want == "f32":
        return arr, ST_NAME[arr.dtype]
    if want == "f16":
        with np.errstate(over="ignore", invalid="ignore"):
            return arr.astype("<f2"), "F16"
    return f32_to_bf16_bits(arr).reshape(arr.shape), "BF16"


def build_safetensors(tensors, want, source):
    header = {"__metadata__": {"source": source}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr, st_dtype = convert_dtype(tensors[name], want)
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": st_dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    hbytes = text.encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    return len(hbytes).to_bytes(8, "little") + hbytes + b"".join(blobs)


def default_source(model_path):
    """'<package>@<version>/<path inside the package>' when model.json sits
    inside an unpacked npm package, else the file name."""
    d = os.path.dirname(os.path.abspath(model_path))
    while True:
        pj = os.path.join(d, "package.json")
        if os.path.isfile(pj):
            with open(pj, "rb") as f:
                meta = json.load(f)
            rel = os.path.relpath(os.path.abspath(model_path), d)
            return "%s@%s/%s" % (meta.get("name"), meta.get("version"), rel)
        parent = os.path.dirname(d)
        if parent == d:
            return os.path.basename(model_path)
        d = parent


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="tfjs model.json")
    ap.add_argument("-o", "--output", required=True, help="output .safetensors")
    ap.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32",
                    help="floating-point output dtype (default f32)")
    ap.add_argument("--source", help="__metadata__ source string "
                    "(default: package@version/path from package.json)")
    ap.add_argument("--dequantize-affine", action="store_true",
                    help="expand uint8/uint16 quantized weights")
    args = ap.parse_args(argv)
    try:
        tensors = read_model(args.model, args.dequantize_affine)
        source = args.source or default_source(args.model)
        data = build_safetensors(tensors, args.dtype, source)
    except (ConvertError, OSError, ValueError, KeyError) as e:
        print("tfjs_to_safetensors: %s: %s" % (args.model, e), file=sys.stderr)
        return 2
    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.output)
    nbytes = sum(t.nbytes for t in tensors.values())
    print("%s: %d tensors, %d bytes of weights -> %s (%d bytes, %s)"
          % (args.model, len(tensors), nbytes, args.output, len(data),
             args.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
