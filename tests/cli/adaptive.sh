#!/usr/bin/env bash
# Adaptive (lossy) mode through the tools: pack --mode adaptive with each
# bound, inspect (adaptive figures, --channels, --json), verify, unpack
# (dequantized, same size and dtype, error within the bound), the
# scheduler carried on with --prev, and option errors.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A="$WORK/a.alcm"
expect 0 "pack adaptive snr" "$PACK" -q --mode adaptive --snr-db 30 -o "$A" "$EXAMPLE"
expect 0 "verify adaptive" "$INSPECT" --verify "$A"
check "inspect shows adaptive figures" grep -q "adaptive (lossy): .* bits/weight, SNR" "$WORK/.out"
expect 0 "inspect json" "$INSPECT" --json "$A"
check "json adaptive object" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = [e for e in d["entries"] if e["encoding"] == 1]
assert a and all("adaptive" in e and e["adaptive"]["snr_db"] >= 30 for e in a)
assert all(any(s["type"] == 2 for s in e["sections"]) for e in a)
keys = {m["key"] for m in d["meta"]}
assert {"alcm.caq", "alcm.ratio", "alcm.cpu_seconds", "alcm.scheduler"} <= keys
assert d["format_minor"] == 4
# the informative sections (entropy map 1, statistics 6) only on request
assert not any(s["type"] in (1, 6) for e in a for s in e["sections"])
' "$WORK/.out"
NAME=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print([e["name"] for e in d["entries"] if e["encoding"] == 1][0])' "$WORK/.out")
AI="$WORK/ai.alcm"
expect 0 "pack --informative-sections" "$PACK" -q --mode adaptive --snr-db 30 --informative-sections -o "$AI" "$EXAMPLE"
expect 0 "inspect json (informative)" "$INSPECT" --json "$AI"
check "entropy map and statistics stored" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = [e for e in d["entries"] if e["encoding"] == 1]
assert a and all({1, 2, 4, 6} <= {s["type"] for s in e["sections"]} for e in a)
' "$WORK/.out"
expect 1 "--informative-sections needs adaptive" "$PACK" -q --informative-sections -o "$WORK/x.alcm" "$EXAMPLE"
expect 0 "inspect --channels" "$INSPECT" --channels "$NAME" "$AI"
check "channel table" grep -q "entropy.*bits.*scale.*density" "$WORK/.out"
expect 0 "inspect --channels --json" "$INSPECT" --json --channels "$NAME" "$AI"
check "channels array" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["channels"]
assert c and all(1 <= x["bits"] <= 16 and 0 <= x["mask_density"] <= 1 for x in c)
' "$WORK/.out"
expect 2 "--channels of a missing tensor" "$INSPECT" --channels no-such "$A"

expect 0 "unpack adaptive" "$UNPACK" -o "$WORK/out.safetensors" "$A"
check "lossy note" grep -q "note: archive is lossy (adaptive); tensors are dequantized" "$WORK/.err"
check "same size as the original" test "$(stat -c %s "$EXAMPLE")" -eq "$(stat -c %s "$WORK/out.safetensors")"
check "tensors within the SNR bound" "$PY" -c '
import json, struct, sys
import numpy as np
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32)
    return out
x, y = load(sys.argv[1]), load(sys.argv[2])
assert x.keys() == y.keys()
for k in x:
    err = float(np.sum((x[k].astype(np.float64) - y[k]) ** 2))
    sig = float(np.sum(x[k].astype(np.float64) ** 2))
    assert err == 0 or 10 * np.log10(sig / err) >= 30 - 1e-6, k
' "$EXAMPLE" "$WORK/out.safetensors"

B="$WORK/b.alcm"
expect 0 "pack max-abs with --prev" "$PACK" -q --mode adaptive --max-abs-error 0.001 --prev "$A" --keep-lossless '*conv2d_1*' -o "$B" "$EXAMPLE"
expect 0 "verify second" "$INSPECT" --json --verify "$B"
check "keep-lossless and scheduler" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verify"]["ok"]
for e in d["entries"]:
    if "conv2d_1/" in e["name"]: assert e["encoding"] == 0
    if e["encoding"] == 1: assert e["adaptive"]["max_abs_err"] <= 0.001
' "$WORK/.out"
expect 0 "pack rel" "$PACK" -q --mode adaptive --rel-error 0.01 -o "$WORK/c.alcm" "$EXAMPLE"
expect 0 "pack with config" "$PACK" -q --mode adaptive --config "$SRC/configs/encoder_config.yaml" -o "$WORK/d.alcm" "$EXAMPLE"
expect 0 "verify config archive" "$INSPECT" --json "$WORK/d.alcm"
check "config stored" grep -q '"alcm.config"' "$WORK/.out"

printf 'quantization:\n  base_precision: 99\n' >"$WORK/bad.yaml"
expect 1 "bad config" "$PACK" -q --mode adaptive --config "$WORK/bad.yaml" -o "$WORK/e.alcm" "$EXAMPLE"
check "config error names the place" grep -q "bad.yaml:2:" "$WORK/.err"
check "no output after a failure" test ! -e "$WORK/e.alcm"
expect 1 "two bounds" "$PACK" --mode adaptive --snr-db 30 --rel-error 0.1 -o "$WORK/f.alcm" "$EXAMPLE"
expect 1 "bound without adaptive" "$PACK" --snr-db 30 -o "$WORK/f.alcm" "$EXAMPLE"
expect 1 "bad mode" "$PACK" --mode lossy -o "$WORK/f.alcm" "$EXAMPLE"
expect 1 "bad channel axis" "$PACK" --mode adaptive --channel-axis x -o "$WORK/f.alcm" "$EXAMPLE"
expect 0 "pack with --channel-axis last" "$PACK" -q --mode adaptive --snr-db 30 --channel-axis last -o "$WORK/g.alcm" "$EXAMPLE"
expect 0 "verify --channel-axis last" "$INSPECT" --verify "$WORK/g.alcm"
finish
