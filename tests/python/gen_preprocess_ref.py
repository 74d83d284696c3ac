#!/usr/bin/python3
"""Reference values for tests/test_preprocess.cpp and tests/test_image.cpp, computed by
torchvision and PIL (the independent implementations our preprocessing and decoding
must agree with).

    /usr/bin/python3 tests/python/gen_preprocess_ref.py OUT_DIR [SHARED_DATA_DIR]

Writes OUT_DIR/preprocess_ref.safetensors: for each synthetic image case "h{H}_w{W}_r{R}"
(all float32, HWC for images, CHW for the normalised crop):
  .resize_f    torchvision resize(float tensor, [R], BILINEAR, antialias=True), unrounded
  .resize_u8   the same on the uint8 tensor (torchvision rounds back to uint8)
  .crop_u8     CenterCrop(224) of resize_u8
  .normalized  ConvertImageDtype(float) + Normalize(ImageNet mean/std) of crop_u8
and "explicit_h{H}_w{W}_to_h{h}_w{w}": resize(float tensor, [h, w], antialias=True), HWC;
and OUT_DIR/image_ref.safetensors: PIL's RGB decode (`convert("RGB")`) of JPEG files, one
tensor per file: "generated/<name>.jpg" are written here by PIL into OUT_DIR/generated
(baseline 4:2:0, 4:4:4, progressive, greyscale; 61x45 so MCUs are partial), and
"cifar10/test/<class>/<file>.jpg" are the first files of each class under SHARED_DATA_DIR.

Synthetic pixels (the same formula is in test_preprocess.cpp), with 32-bit unsigned
wrap-around arithmetic:
    v = (x * 0x9E3779B1) ^ (y * 0x85EBCA77) ^ (c * 0xC2B2AE3D)
    v ^= v >> 15;  v *= 0x2C1B3C6D;  v ^= v >> 13
    pixel(y, x, c) = v >> 24
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
try:
    from safetensors_io import write as write_safetensors
except ImportError:  # the shared writer is not there yet: plain F32 only
    def write_safetensors(path, tensors, metadata=None):
        header, blobs, offset = {}, [], 0
        if metadata:
            header["__metadata__"] = metadata
        for name in sorted(tensors):
            data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
            header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                            "data_offsets": [offset, offset + len(data)]}
            blobs.append(data)
            offset += len(data)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

# (height, width, resize): odd sizes, portrait and landscape, upscaling (37x91),
# unchanged short side (256x300), the 232 resize of the V2 weights.
CASES = [(375, 500, 256), (333, 500, 256), (37, 91, 256), (1000, 1001, 256), (225, 224, 256),
         (300, 257, 256), (500, 375, 256), (256, 300, 256), (375, 500, 232)]
CROP = 224
# resize to an explicit (h, w): one axis only, and up in one axis while down in the other.
EXPLICIT = [((61, 83), (61, 40)), ((61, 83), (17, 83)), ((61, 83), (150, 29))]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def synthetic(h, w):
    y = np.arange(h, dtype=np.uint32)[:, None, None]
    x = np.arange(w, dtype=np.uint32)[None, :, None]
    c = np.arange(3, dtype=np.uint32)[None, None, :]
    v = (x * np.uint32(0x9E3779B1)) ^ (y * np.uint32(0x85EBCA77)) ^ (c * np.uint32(0xC2B2AE3D))
    v = v ^ (v >> np.uint32(15))
    v = v * np.uint32(0x2C1B3C6D)
    v = v ^ (v >> np.uint32(13))
    return (v >> np.uint32(24)).astype(np.uint8)  # H x W x 3


def hwc(t):
    return t.permute(1, 2, 0).contiguous().numpy().astype(np.float32)


def preprocess_cases():
    out = {}
    for h, w, r in CASES:
        name = f"h{h}_w{w}_r{r}"
        chw = torch.from_numpy(synthetic(h, w)).permute(2, 0, 1).contiguous()
        resized_f = F.resize(chw.float(), [r], InterpolationMode.BILINEAR, antialias=True)
        resized_u8 = F.resize(chw, [r], InterpolationMode.BILINEAR, antialias=True)
        assert resized_u8.dtype == torch.uint8
        crop = F.center_crop(resized_u8, [CROP, CROP])
        normalized = F.normalize(F.convert_image_dtype(crop, torch.float32), MEAN, STD)
        out[name + ".resize_f"] = hwc(resized_f)
        out[name + ".resize_u8"] = hwc(resized_u8)
        out[name + ".crop_u8"] = hwc(crop)
        out[name + ".normalized"] = normalized.numpy().astype(np.float32)
        # For the report only: how far PIL's fixed-point resampling is from the tensor path.
        from PIL import Image
        pil = np.asarray(F.resize(Image.fromarray(synthetic(h, w)), [r], InterpolationMode.BILINEAR))
        diff = np.abs(pil.astype(np.int32) - hwc(resized_u8).astype(np.int32)).max()
        print(f"{name}: {h}x{w} -> {tuple(resized_u8.shape[1:])}, PIL vs tensor max |diff| {diff}")
    for (h, w), (oh, ow) in EXPLICIT:
        chw = torch.from_numpy(synthetic(h, w)).permute(2, 0, 1).contiguous()
        resized = F.resize(chw.float(), [oh, ow], InterpolationMode.BILINEAR, antialias=True)
        out[f"explicit_h{h}_w{w}_to_h{oh}_w{ow}"] = hwc(resized)
    return out


def jpeg_cases(out_dir, shared):
    from PIL import Image
    out = {}
    gen = os.path.join(out_dir, "generated")
    os.makedirs(gen, exist_ok=True)
    h, w = 45, 61
    y, x = np.mgrid[0:h, 0:w]
    noise = synthetic(h, w).astype(np.int32) // 8
    smooth = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1) + noise
    rgb = Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8))
    variants = {
        "baseline420.jpg": (rgb, {"quality": 75}),
        "baseline444.jpg": (rgb, {"quality": 95, "subsampling": 0}),
        "progressive.jpg": (rgb, {"quality": 85, "progressive": True}),
        "grey.jpg": (rgb.convert("L"), {"quality": 90}),
    }
    for name, (image, options) in variants.items():
        path = os.path.join(gen, name)
        image.save(path, "JPEG", **options)
        with Image.open(path) as im:
            out["generated/" + name] = np.asarray(im.convert("RGB"), dtype=np.float32)
    root = os.path.join(shared, "cifar10", "test")
    if not os.path.isdir(root):
        print(f"{root} absent: CIFAR JPEGs not in the reference")
        return out
    for cls in sorted(os.listdir(root)):
        files = sorted(f for f in os.listdir(os.path.join(root, cls)) if f.endswith(".jpg"))
        for f in files[:3]:
            with Image.open(os.path.join(root, cls, f)) as im:
                out[f"cifar10/test/{cls}/{f}"] = np.asarray(im.convert("RGB"), dtype=np.float32)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "data")
    os.makedirs(out_dir, exist_ok=True)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "generator": "tests/python/gen_preprocess_ref.py"}
    write_safetensors(os.path.join(out_dir, "preprocess_ref.safetensors"), preprocess_cases(), meta)
    write_safetensors(os.path.join(out_dir, "image_ref.safetensors"), jpeg_cases(out_dir, shared), meta)
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    main()
