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
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# torch, torchvision and their transforms are imported by main() only when there is work
# (keeps re-runs fast).
torch = torchvision = F = InterpolationMode = None

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


# The generated JPEGs: (PIL mode, save options) per file name.
JPEG_VARIANTS = {
    "baseline420.jpg": ("RGB", {"quality": 75}),
    "baseline444.jpg": ("RGB", {"quality": 95, "subsampling": 0}),
    "progressive.jpg": ("RGB", {"quality": 85, "progressive": True}),
    "grey.jpg": ("L", {"quality": 90}),
}


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
    for name, (mode, options) in JPEG_VARIANTS.items():
        path = os.path.join(gen, name)
        ref.replace_atomically(path, lambda tmp: rgb.convert(mode).save(tmp, "JPEG", **options))
        with Image.open(path) as im:
            out["generated/" + name] = np.asarray(im.convert("RGB"), dtype=np.float32)
    files = cifar_jpegs(shared)
    if not files:
        print(f"{shared}/cifar10/test absent: CIFAR JPEGs not in the reference")
    for path in files:
        with Image.open(path) as im:
            out["cifar10/test/" + os.path.relpath(path, os.path.join(shared, "cifar10", "test"))] = \
                np.asarray(im.convert("RGB"), dtype=np.float32)
    return out


def cifar_jpegs(shared):
    """The CIFAR-10 test JPEGs the reference holds: the first 3 of each class folder."""
    root = os.path.join(shared, "cifar10", "test")
    if not os.path.isdir(root):
        return []
    found = []
    for cls in sorted(os.listdir(root)):
        files = sorted(f for f in os.listdir(os.path.join(root, cls)) if f.endswith(".jpg"))
        found += [os.path.join(root, cls, f) for f in files[:3]]
    return found


def main():
    global torch, torchvision, F, InterpolationMode
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "..", "shared", "data")
    outputs = [os.path.join(out_dir, name) for name in ("preprocess_ref.safetensors", "image_ref.safetensors")]
    outputs += [os.path.join(out_dir, "generated", name) for name in JPEG_VARIANTS]
    sources = ref.sources_of(os.path.abspath(__file__)) + cifar_jpegs(shared)
    if ref.up_to_date(outputs, sources):
        print(f"{out_dir}: up to date")
        return
    import torch
    import torchvision
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F
    os.makedirs(out_dir, exist_ok=True)
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "generator": "tests/python/gen_preprocess_ref.py"}
    ref.write_safetensors(outputs[0], preprocess_cases(), meta)
    ref.write_safetensors(outputs[1], jpeg_cases(out_dir, shared), meta)
    ref.mark_up_to_date(outputs, sources)
    print(f"wrote {out_dir}")


if __name__ == "__main__":
    main()
