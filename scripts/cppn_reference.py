#!/usr/bin/env python3
"""A second, independent implementation of alara-nft's exact generator in Python/numpy
integers (the operators of crates/nft/src/fixed.rs, the features of generate.rs, the PNG of
png.rs). It prints the SHA-256 of the PNG of ("a lighthouse in a storm", seed 7), the golden
value crates/nft/tests/it/generator.rs pins:

    .venv/bin/python scripts/cppn_reference.py models/cppn.onnx
"""
import hashlib, struct, zlib, sys
import numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
Q = {k: (v * 65536).astype(np.int64) for k, v in W.items()}
for k, v in W.items(): assert np.all(v * 65536 == Q[k]), k
S = 256
def lat(tag, data, n):
    h = hashlib.sha256(tag + data).digest()
    return [(int.from_bytes(h[2*i:2*i+2], 'little') << 1) - 65535 for i in range(n)], h
def rescale(v): return (v + 32768) >> 16
def tdiv(a, b):  # truncation toward zero, elementwise
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)
def feats(prompt, seed):
    zp, _ = lat(b"alara-nft/cppn/prompt/v1\0", prompt.encode(), 8)
    zs, h = lat(b"alara-nft/cppn/seed/v1\0", struct.pack('<Q', seed), 4)
    zoom = 65536 + h[8] * 512
    c = np.arange(S, dtype=np.int64)
    coord = rescale(tdiv((2*c + 1 - S) << 16, np.full_like(c, S)) * zoom)
    y, x = np.meshgrid(coord, coord, indexing='ij')
    x = x.ravel(); y = y.ravel()
    r = np.array([__import__('math').isqrt(int(v)) for v in (x*x + y*y)], dtype=np.int64)
    f = np.zeros((S*S, 15), np.int64)
    f[:, 0] = x; f[:, 1] = y; f[:, 2] = r; f[:, 3:11] = zp; f[:, 11:15] = zs
    return f
def ss(x): return tdiv(x << 16, 65536 + np.abs(x))
def mm(x, w): return rescale(x @ w)
def gen(prompt, seed):
    f = feats(prompt, seed)
    h1 = ss(mm(f, Q['W1']) + Q['b1'])
    h2 = ss(mm(h1, Q['W2']) + Q['b2'])
    a3 = mm(h1, Q['W3']) + Q['b3']
    g = tdiv(np.full_like(a3, 1 << 32), rescale(a3 * a3) + Q['one'])
    c = np.concatenate([h2, g], axis=1)
    h4 = ss(mm(c, Q['W4']) + Q['b4'])
    s5 = ss(mm(h4, Q['W5']) + Q['b5'])
    out = rescale(s5 * Q['half']) + Q['half']
    return np.clip((out * 255 + 32768) >> 16, 0, 255).astype(np.uint8)
def png(rgb):
    raw = b''.join(b'\0' + rgb[i*S*3:(i+1)*S*3].tobytes() for i in range(S))
    z = b'\x78\x01'
    for i in range(0, len(raw), 65535):
        ch = raw[i:i+65535]; last = i + 65535 >= len(raw)
        z += bytes([1 if last else 0]) + struct.pack('<HH', len(ch), len(ch) ^ 0xffff) + ch
    z += struct.pack('>I', zlib.adler32(raw))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', S, S, 8, 2, 0, 0, 0)) + chunk(b'IDAT', z) + chunk(b'IEND', b'')
rgb = gen("a lighthouse in a storm", 7).ravel()
p = png(rgb)
assert zlib.decompress(p[8+25+8:-12-4]) is not None
open('/tmp/nftproto/golden.png', 'wb').write(p)
print(hashlib.sha256(p).hexdigest(), len(p))
