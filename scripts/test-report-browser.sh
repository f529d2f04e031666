#!/usr/bin/env bash
# Renders the report of the fixed data set in mesh-core/tests/data/report/ in
# headless Chromium, then checks the screenshot is not blank and the DOM has
# every section heading.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-cache policy chromium | grep -q 'Candidate: [0-9]' || apt-get update
    apt-get install -y chromium
fi

out="${REPORT_OUT:-$(mktemp -d)}"
data=mesh-core/tests/data/report
cargo run -q -p mesh-cli --bin mesh -- report \
    --events "$data/events.ndjson" --decisions "$data/decisions.jsonl" \
    --now 1700003600 --silence-threshold 900 --out "$out/report.html"

profile=$(mktemp -d)
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile")
( cd "$out" && chromium "${flags[@]}" --screenshot="$out/report.png" --window-size=1280,2000 \
    "file://$out/report.html" ) 2>/dev/null
chromium "${flags[@]}" --dump-dom "file://$out/report.html" 2>/dev/null >"$out/dom.html"
rm -rf "$profile"

python3 - "$out/report.png" "$out/dom.html" <<'PY'
import struct, sys, zlib
png, dom = sys.argv[1], sys.argv[2]
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours = set()
i = 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp * 2):
            colours.add(bytes(line[x:x + 3]))
    prev = line
print(f"screenshot {w}x{h}, {len(colours)} distinct colours sampled")
assert len(colours) > 50, "screenshot looks blank"
text = open(dom, encoding="utf-8").read()
for h in ["Coverage", "Events by OCSF class over time", "Decisions over time",
          "Top denied subjects", "Top deny policies",
          "Findings by severity and ATT&amp;CK technique",
          "Posture compliance by rule", "Active bundle revision"]:
    assert f">{h}</h" in text, f"heading missing from the DOM: {h}"
assert "GAP — silent" in text, "coverage gap not shown"
assert "<script>alert" not in text, "event data injected markup"
print("report renders: headings present, screenshot not blank")
PY
echo "$out/report.png"
