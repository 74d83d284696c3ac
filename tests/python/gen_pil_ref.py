#!/usr/bin/python3
"""PIL and PyTorch references for decoding, resizing and classifying images exactly as
`PIL.Image.open(f).convert("RGB")`, torchvision's Resize/CenterCrop on PIL images and a
PyTorch ResNet-50 do (tests/test_pil_exact.cpp, tests/cli_classify_imagenet.py).

    /usr/bin/python3 tests/python/gen_pil_ref.py OUT_DIR [SHARED_DATA_DIR]

Writes into OUT_DIR/pil:
  generated/*.png, *.jpg   images of every kind PIL converts in its own way: grey at 1, 2,
                           4, 8 and 16 bits, grey+alpha, RGB and RGBA at 8 and 16 bits,
                           palettes at 1, 2, 4 and 8 bits (short PLTE, tRNS, indices past
                           the PLTE), Adam7 interlacing, tRNS on grey and RGB; JPEGs written
                           by PIL: CMYK (Adobe, inverted), grey, 4:2:0, 4:2:2, 4:4:4,
                           progressive, optimised Huffman tables, odd sizes
  decode_ref.txt           "ROOT RELPATH WIDTH HEIGHT CRC32" per file, CRC32 (zlib) of
                           PIL's convert("RGB") bytes; ROOT is "generated" (the folder above)
                           or "shared" (SHARED_DATA_DIR: cifar10/test, cifar10/train,
                           imagenet-samples, every file)
  resize_ref.txt           "synthetic H W OUT_H OUT_W CRC32": PIL resize(BILINEAR) of the
                           synthetic pattern (formula in gen_preprocess_ref.py);
                           "imagenet RELPATH RESIZED_H RESIZED_W CRC32_RESIZED CRC32_CROP":
                           torchvision Resize(256) and CenterCrop(224) on PIL images
  resnet50.safetensors     a seeded random torchvision ResNet-50 (non-trivial BN; the fc
                           scaled so the photos' logits have standard deviation 3)
  imagenet_probs.safetensors  "probs" [200, 1000]: softmax of that network on
                           Resize(256), CenterCrop(224), ToTensor, Normalize of each photo;
                           metadata "files": the photos' paths relative to SHARED_DATA_DIR,
                           one per line, in the rows' order
"""
import os
import struct
import sys
import warnings
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402
from gen_preprocess_ref import synthetic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_FOLDERS = ("cifar10/test", "cifar10/train", "imagenet-samples")
IMAGENET = "imagenet-samples"
SEED = 2611
LOGIT_STD = 3.0
# (height, width, out_height, out_width): down, up, one axis only, mixed, to one pixel,
# and the 256/224 sizes of the ImageNet pipeline.
SYNTHETIC_RESIZES = [(375, 500, 256, 341), (500, 375, 341, 256), (37, 91, 256, 629), (61, 83, 61, 40),
                     (61, 83, 17, 83), (61, 83, 150, 29), (1000, 1001, 256, 256), (7, 9, 1, 1),
                     (300, 257, 298, 256), (224, 225, 224, 224)]


# ---- hand-written PNGs: every colour type and bit depth, Adam7 ----

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_rows(samples, depth):
    """samples: H x W x C integer array -> the PNG scanline bytes of each row (no filter byte)."""
    h = samples.shape[0]
    if depth == 16:
        return [samples[y].astype(">u2").tobytes() for y in range(h)]
    if depth == 8:
        return [samples[y].astype(np.uint8).tobytes() for y in range(h)]
    rows = []
    per_byte = 8 // depth
    for y in range(h):
        flat = samples[y].reshape(-1).astype(np.int64)
        pad = (-len(flat)) % per_byte
        flat = np.concatenate([flat, np.zeros(pad, np.int64)]).reshape(-1, per_byte)
        shifts = np.arange(per_byte - 1, -1, -1) * depth
        rows.append((flat << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


def filtered(rows, filter_type):
    """Rows with a filter byte; filter 1 (Sub) with bpp 1 is valid for any depth >= 1 byte
    step only when applied per byte, so only filters 0 and 2 (Up) are used."""
    out = b""
    prev = bytes(len(rows[0])) if rows else b""
    for row in rows:
        if filter_type == 2:
            data = bytes((a - b) & 0xFF for a, b in zip(row, prev))
        else:
            data = row
        out += bytes([filter_type]) + data
        prev = row
    return out


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(samples, depth, colour_type, plte=None, trns=None, interlace=False):
    h, w = samples.shape[:2]
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += filtered(pack_rows(sub, depth), 0)
    else:
        raw = filtered(pack_rows(samples, depth), 2)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    # Two IDAT chunks: decoders must join them.
    z = zlib.compress(raw, 6)
    out += png_chunk(b"IDAT", z[: len(z) // 2]) + png_chunk(b"IDAT", z[len(z) // 2:])
    return out + png_chunk(b"IEND", b"")


def noise(h, w, c, bits, seed):
    return np.random.default_rng(seed).integers(0, 1 << bits, size=(h, w, c), dtype=np.int64)


def generated_pngs():
    h, w = 23, 37  # odd: partial bytes at 1, 2 and 4 bits, partial Adam7 passes
    files = {}
    for depth in (1, 2, 4, 8, 16):
        files[f"grey{depth}.png"] = png_bytes(noise(h, w, 1, depth, depth), depth, 0)
    # 16-bit grey is PIL mode "I": mostly small values so clipping at 255 is not all there is.
    small = noise(h, w, 1, 9, 99)
    files["grey16_small.png"] = png_bytes(small, 16, 0)
    files["grey16_interlaced.png"] = png_bytes(small, 16, 0, interlace=True)
    files["grey8_trns.png"] = png_bytes(noise(h, w, 1, 8, 5), 8, 0, trns=struct.pack(">H", 7))
    for depth in (8, 16):
        files[f"grey_alpha{depth}.png"] = png_bytes(noise(h, w, 2, depth, 10 + depth), depth, 4)
        files[f"rgb{depth}.png"] = png_bytes(noise(h, w, 3, depth, 20 + depth), depth, 2)
        files[f"rgba{depth}.png"] = png_bytes(noise(h, w, 4, depth, 30 + depth), depth, 6)
    files["rgb8_trns.png"] = png_bytes(noise(h, w, 3, 8, 41), 8, 2, trns=struct.pack(">HHH", 1, 2, 3))
    files["rgb8_interlaced.png"] = png_bytes(noise(h, w, 3, 8, 42), 8, 2, interlace=True)
    files["rgba16_interlaced.png"] = png_bytes(noise(h, w, 4, 16, 43), 16, 6, interlace=True)
    for depth in (1, 2, 4, 8):
        entries = min(1 << depth, 200)
        plte = noise(1, entries, 3, 8, 50 + depth).reshape(-1).tolist()
        files[f"palette{depth}.png"] = png_bytes(noise(h, w, 1, depth, 60 + depth), depth, 3, plte=plte)
    # Indices past a 5-entry PLTE read PIL's default grey ramp; tRNS is dropped.
    short = noise(1, 5, 3, 8, 70).reshape(-1).tolist()
    files["palette8_short.png"] = png_bytes(noise(h, w, 1, 4, 71), 8, 3, plte=short, trns=[0, 128])
    files["palette4_interlaced.png"] = png_bytes(noise(h, w, 1, 4, 72), 4, 3, interlace=True,
                                                 plte=noise(1, 16, 3, 8, 73).reshape(-1).tolist())
    return files


def generated_pil_files(gen):
    """Images PIL itself writes: JPEG variants and PIL's own PNGs."""
    from PIL import Image
    h, w = 45, 61
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1) + synthetic(h, w).astype(np.int32) // 8
    rgb = Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8))
    big = Image.fromarray(synthetic(333, 517)).resize((517, 333), Image.BILINEAR)
    variants = {
        "cmyk.jpg": (rgb.convert("CMYK"), {"quality": 90}),
        "cmyk_big.jpg": (big.convert("CMYK"), {"quality": 80}),
        "grey.jpg": (rgb.convert("L"), {"quality": 90}),
        "420.jpg": (rgb, {"quality": 75}),
        "422.jpg": (rgb, {"quality": 85, "subsampling": 1}),
        "444.jpg": (rgb, {"quality": 95, "subsampling": 0}),
        "progressive.jpg": (big, {"quality": 85, "progressive": True}),
        "optimized.jpg": (big, {"quality": 50, "optimize": True}),
        "pil_rgba.png": (Image.fromarray(noise(h, w, 4, 8, 80).astype(np.uint8), "RGBA"), {}),
        "pil_palette.png": (rgb.convert("P", palette=Image.ADAPTIVE, colors=37), {}),
        "pil_la.png": (Image.fromarray(noise(h, w, 2, 8, 81).astype(np.uint8), "LA"), {}),
        "pil_1bit.png": (rgb.convert("1"), {}),
    }
    for name, (image, options) in variants.items():
        fmt = "JPEG" if name.endswith(".jpg") else "PNG"
        ref.replace_atomically(os.path.join(gen, name), lambda tmp: image.save(tmp, fmt, **options))


def shared_files(shared):
    found = []
    for folder in SHARED_FOLDERS:
        base = os.path.join(shared, folder)
        for dirpath, _, names in os.walk(base):
            found += [os.path.relpath(os.path.join(dirpath, n), shared) for n in names]
    return sorted(found)


def pil_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def crc(a):
    return zlib.crc32(np.ascontiguousarray(a, dtype=np.uint8).tobytes())


def decode_lines(gen, shared, shared_list):
    lines = []
    for root_key, base, names in (("generated", gen, sorted(os.listdir(gen))), ("shared", shared, shared_list)):
        for name in names:
            a = pil_rgb(os.path.join(base, name))
            lines.append(f"{root_key} {name} {a.shape[1]} {a.shape[0]} {crc(a)}")
    return lines


def resize_and_classify(out, shared, shared_list):
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms as T
    import gen_torchvision
    lines = []
    for h, w, oh, ow in SYNTHETIC_RESIZES:
        resized = np.asarray(Image.fromarray(synthetic(h, w)).resize((ow, oh), Image.BILINEAR))
        lines.append(f"synthetic {h} {w} {oh} {ow} {crc(resized)}")

    photos = [n for n in shared_list if n.startswith(IMAGENET + "/")]
    resize, crop = T.Resize(256), T.CenterCrop(224)
    to_input = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    batch = []
    for name in photos:
        with Image.open(os.path.join(shared, name)) as im:
            resized = resize(im.convert("RGB"))
        cropped = crop(resized)
        r, c = np.asarray(resized), np.asarray(cropped)
        lines.append(f"imagenet {name} {r.shape[0]} {r.shape[1]} {crc(r)} {crc(c)}")
        batch.append(to_input(cropped))

    model = torchvision.models.resnet50()
    model.eval()
    gen_torchvision.randomize(torch, model, SEED)
    x = torch.stack(batch)
    # Batches of 4: the same logits bit for bit as batches of 20, in a quarter of the time
    # (measured: 6.0 s against 25 s for 40 photos on 2 threads; big batches leave the cache).
    logits = torch.cat([model(x[i:i + 4]) for i in range(0, len(photos), 4)])
    scale = LOGIT_STD / float(logits.std())
    model.fc.weight.mul_(scale)
    model.fc.bias.mul_(scale)
    probs = torch.softmax(logits * scale, dim=1)  # the fc is linear: the same as a new forward
    state = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()}
    ref.write_safetensors(os.path.join(out, "resnet50.safetensors"), state,
                          {"source": "torch", "format": "pt", "seed": str(SEED)})
    ref.write_safetensors(os.path.join(out, "imagenet_probs.safetensors"),
                          {"probs": probs.numpy().astype(np.float32)}, {"files": "\n".join(photos)})
    top = probs.max(dim=1).values
    print(f"ResNet-50 on {len(photos)} photos: logit std {float((logits * scale).std()):.2f}, "
          f"top-1 probability median {float(top.median()):.3f}, max {float(top.max()):.3f}")
    return lines


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = os.path.join(sys.argv[1], "pil")
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "data")
    shared_list = shared_files(shared)
    if not shared_list:
        print(f"{shared}: no shared images; only generated files are referenced")
    gen = os.path.join(out, "generated")
    names = ["decode_ref.txt", "resize_ref.txt", "resnet50.safetensors", "imagenet_probs.safetensors"]
    outputs = [os.path.join(out, n) for n in names]
    sources = ref.sources_of(os.path.abspath(__file__), os.path.join(os.path.dirname(__file__), "gen_preprocess_ref.py"),
                             os.path.join(os.path.dirname(__file__), "gen_torchvision.py"))
    sources += [os.path.join(shared, n) for n in shared_list]
    if ref.up_to_date(outputs, sources):
        print(f"{out}: up to date")
        return
    torch = ref.setup_torch()  # noqa: F841  (threads, no grad)
    # PIL's advice to convert palette images with tRNS to RGBA: convert("RGB") is the point.
    warnings.filterwarnings("ignore", "Palette images with Transparency")
    os.makedirs(gen, exist_ok=True)
    for name, data in generated_pngs().items():
        ref.replace_atomically(os.path.join(gen, name), lambda tmp, d=data: open(tmp, "wb").write(d))
    generated_pil_files(gen)
    with ref.Timer("PIL decode of every file"):
        decode = decode_lines(gen, shared, shared_list)
    resize = resize_and_classify(out, shared, shared_list)
    ref.replace_atomically(outputs[0], lambda tmp: open(tmp, "w").write("\n".join(decode) + "\n"))
    ref.replace_atomically(outputs[1], lambda tmp: open(tmp, "w").write("\n".join(resize) + "\n"))
    ref.mark_up_to_date(outputs, sources)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
