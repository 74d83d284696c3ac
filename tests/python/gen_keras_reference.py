#!/usr/bin/env python3
"""Reference data for the Keras ResNets (KV1 ResNet50/101/152, KV2 ResNet50V2/101V2/152V2),
computed by a PyTorch re-implementation that follows docs/spec.md 1.3-1.11 literally
(no Keras runtime is available), and for our basic-block V2 models in the Keras V2 style
(resnet18v2, resnet34v2; definition in keras_arch.py). Weights are seeded random values
with non-trivial BN statistics, stored under Keras names and layouts.

    gen_keras_reference.py OUTDIR [--force] [--variants resnet50 resnet50v2 ...]

Writes, per variant NAME:
  OUTDIR/keras_NAME.safetensors     key `<layer>/<weight>`, HWIO kernels,
                                    predictions/kernel [C, 1000], C = 2048 (512 for 18v2/34v2)
  OUTDIR/keras_NAME_io.safetensors  for S in 224x224, 193x257 (H x W), batch 2:
      input_S        [2,3,H,W]   N(0,1), NCHW, taken as already preprocessed
      logits_S       [2,1000]    pre-softmax
      probs_S        [2,1000]    softmax (Keras' default classifier_activation)
      pooled_avg_S   [2,C]       include_top=False, pooling='avg'
      pooled_max_S   [2,C]       include_top=False, pooling='max'
      fmap_S         [2,C,h,w]   NCHW; KV1 conv5 block output, KV2 post_relu output
Before writing, the script asserts the parameter and weight-array counts of docs/spec.md 2.2 / 7.2,
the MAC counts of docs/spec.md 3 (for 18v2/34v2: counts derived by hand, BASIC_V2_COUNTS), the
ceil(H/32) rule and the KV2 stem-pool zeros of docs/spec.md 7.5.
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_arch  # noqa: E402
import torch_reference as ref  # noqa: E402

SEED_BASE = 2000

# Spec 2.2: (total with top, total without top, weight arrays with top, without top).
SPEC_COUNTS = {
    "resnet50": (25_636_712, 23_587_712, 320, 318),
    "resnet101": (44_707_176, 42_658_176, 626, 624),
    "resnet152": (60_419_944, 58_370_944, 932, 930),
    "resnet50v2": (25_613_800, 23_564_800, 272, 270),
    "resnet101v2": (44_675_560, 42_626_560, 544, 542),
    "resnet152v2": (60_380_648, 58_331_648, 816, 814),
}
# Spec 3: MACs (convolutions + dense) at 224x224.
SPEC_MACS = {
    "resnet50": 3_857_973_248, "resnet101": 7_570_194_432, "resnet152": 11_282_415_616,
    "resnet50v2": 3_482_255_360, "resnet101v2": 7_194_476_544, "resnet152v2": 10_906_697_728,
}
# Not in the spec (Keras has no such models): worked out per block from the definition in
# keras_arch.py. Stem conv 9,472; a block with C_in -> p adds 4*C_in (preact BN) +
# 9*C_in*p (_1_conv) + 4*p (_1_bn) + 9*p*p + p (_2_conv) [+ C_in*p + p (_0_conv) where
# C_in != p]; post_bn 2,048; predictions 513,000. Non-trainable: the moving statistics.
# MACs at 224: stem 112^2*7*7*3*64, each block conv at its output size (56 in conv2 up to
# its strided last block, which outputs 28; then 28, 14, 7 likewise), dense 512*1000.
# name: (total, trainable, non-trainable, total without top, arrays, arrays without top,
#        MACs at 224x224)
BASIC_V2_COUNTS = {
    "resnet18v2": (11_698_408, 11_690_600, 7_808, 11_185_408, 102, 100, 1_293_848_576),
    "resnet34v2": (21_815_848, 21_800_616, 15_232, 21_302_848, 190, 188, 3_143_536_640),
}
for _name, _c in BASIC_V2_COUNTS.items():
    SPEC_COUNTS[_name] = (_c[0], _c[3], _c[4], _c[5])
    SPEC_MACS[_name] = _c[6]


def random_weights(torch, name, seed):
    """{key: float32 numpy array} in Keras layout and order."""
    _, v2 = keras_arch.parse_variant(name)
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for layer, weights in keras_arch.keras_layers(name):
        shapes = dict(weights)
        if "gamma" in shapes:
            c = shapes["gamma"][0]
            # KV1: the branch ends in _3_bn; a small gamma there keeps the sum O(1).
            last = (not v2) and layer.endswith("_3_bn")
            for w, value in zip(keras_arch.BN_WEIGHTS, ref.random_bn_stats(torch, c, g, last)):
                out[f"{layer}/{w}"] = value
        elif layer == "predictions":
            cin, classes = shapes["kernel"]
            out["predictions/kernel"] = torch.randn(cin, classes, generator=g) / cin ** 0.5
            out["predictions/bias"] = 0.1 * torch.randn(classes, generator=g)
        elif "kernel" in shapes:
            kh, kw, cin, cout = shapes["kernel"]
            kernel = ref.kaiming_normal(torch, (cout, cin, kh, kw), g).permute(2, 3, 1, 0)
            if v2 and layer.endswith(keras_arch.branch_end_conv(name)):
                # KV2 branches end in a conv without BN: scale it down instead of gamma.
                kernel = 0.2 * kernel
            out[f"{layer}/kernel"] = kernel.contiguous()
            if "bias" in shapes:
                bias = 0.1 * torch.randn(cout, generator=g)
                if v2 and layer == "conv1_conv":
                    # Mostly negative stem outputs make the zero-padding semantics of the
                    # KV2 stem pool visible in the logits (about 20x the 1e-3 tolerance).
                    bias -= 1.0
                out[f"{layer}/bias"] = bias
    return OrderedDict((k, v.numpy().astype(np.float32)) for k, v in out.items())


class KerasResNet:
    """Forward pass of KV1/KV2 on NCHW float32 tensors from Keras-layout weights."""

    def __init__(self, torch, name, weights):
        self.torch = torch
        self.F = torch.nn.functional
        self.name = name
        _, self.v2 = keras_arch.parse_variant(name)
        self.w = {k: torch.from_numpy(v) for k, v in weights.items()}
        self.used = set()
        self.macs = 0

    def _get(self, key):
        self.used.add(key)
        return self.w[key]

    def conv(self, x, layer, stride=1, pad=0):
        """Keras ZeroPadding2D(pad) + Conv2D(valid); HWIO -> OIHW is a pure permutation."""
        if pad:
            x = self.F.pad(x, (pad, pad, pad, pad))
        kernel = self._get(f"{layer}/kernel").permute(3, 2, 0, 1).contiguous()
        bias = self._get(f"{layer}/bias") if f"{layer}/bias" in self.w else None
        y = self.F.conv2d(x, kernel, bias, stride=stride)
        o, i, kh, kw = kernel.shape
        self.macs += y.shape[2] * y.shape[3] * o * i * kh * kw  # per sample
        return y

    def bn(self, x, layer):
        g = self._get
        return self.F.batch_norm(x, g(f"{layer}/moving_mean"), g(f"{layer}/moving_variance"),
                                 g(f"{layer}/gamma"), g(f"{layer}/beta"), training=False,
                                 eps=keras_arch.BN_EPSILON)

    @staticmethod
    def stem_pool(F, x):
        """pool1_pad + pool1_pool: the zero padding takes part in the max (docs/spec.md 1.7)."""
        return F.max_pool2d(F.pad(x, (1, 1, 1, 1)), kernel_size=3, stride=2)

    def block_v1(self, x, p, stride, proj):
        relu = self.F.relu
        shortcut = self.bn(self.conv(x, f"{p}_0_conv", stride), f"{p}_0_bn") if proj else x
        h = relu(self.bn(self.conv(x, f"{p}_1_conv", stride), f"{p}_1_bn"))
        h = relu(self.bn(self.conv(h, f"{p}_2_conv", 1, pad=1), f"{p}_2_bn"))
        h = self.bn(self.conv(h, f"{p}_3_conv"), f"{p}_3_bn")
        return relu(shortcut + h)

    def block_v2(self, x, p, stride, proj):
        relu = self.F.relu
        a = relu(self.bn(x, f"{p}_preact_bn"))
        if proj:
            shortcut = self.conv(a, f"{p}_0_conv")  # the pre-activated input, stride 1
        elif stride > 1:
            shortcut = self.F.max_pool2d(x, kernel_size=1, stride=stride)  # the raw input
        else:
            shortcut = x
        h = relu(self.bn(self.conv(a, f"{p}_1_conv"), f"{p}_1_bn"))
        h = relu(self.bn(self.conv(h, f"{p}_2_conv", stride, pad=1), f"{p}_2_bn"))
        h = self.conv(h, f"{p}_3_conv")
        return shortcut + h  # no ReLU after the add

    def block_v2_basic(self, x, p, stride, proj):
        relu = self.F.relu
        a = relu(self.bn(x, f"{p}_preact_bn"))
        if proj:
            shortcut = self.conv(a, f"{p}_0_conv", stride)  # pre-activated input
        elif stride > 1:
            shortcut = x[:, :, ::stride, ::stride]  # = 1x1 max pool, stride 2, raw input
        else:
            shortcut = x
        h = relu(self.bn(self.conv(a, f"{p}_1_conv", stride, pad=1), f"{p}_1_bn"))
        h = self.conv(h, f"{p}_2_conv", 1, pad=1)
        return shortcut + h  # no ReLU after the add

    def features(self, x):
        F = self.F
        x = self.conv(x, "conv1_conv", stride=2, pad=3)
        if not self.v2:
            x = F.relu(self.bn(x, "conv1_bn"))
        x = self.stem_pool(F, x)  # KV2: signed input, no stem BN/ReLU
        if not self.v2:
            block = self.block_v1
        elif keras_arch.is_basic(self.name):
            block = self.block_v2_basic
        else:
            block = self.block_v2
        for p, _, stride, proj, _ in keras_arch.block_plan(self.name):
            x = block(x, p, stride, proj)
        if self.v2:
            x = F.relu(self.bn(x, "post_bn"))
        return x

    def head(self, pooled):
        self.macs += pooled.shape[1] * self.w["predictions/kernel"].shape[1]
        return pooled @ self._get("predictions/kernel") + self._get("predictions/bias")


def check_stem_pool_semantics(torch):
    """Spec 7.5: on strictly negative input, the zeros of pool1_pad win wherever a window
    touches the padding: 112 -> 56x56 with 111 zeros, 113 -> 57x57 with 224 zeros."""
    F = torch.nn.functional
    for side, out_side, zeros in ((112, 56, 111), (113, 57, 224)):
        x = -(0.5 + torch.rand(1, 1, side, side, generator=torch.Generator().manual_seed(side)))
        y = KerasResNet.stem_pool(F, x)
        assert tuple(y.shape[2:]) == (out_side, out_side), y.shape
        z = (y == 0)
        assert int(z.sum()) == zeros, (side, int(z.sum()))
        assert bool(z[0, 0, 0, :].all()) and bool(z[0, 0, :, 0].all())
        assert bool((y[~z] < 0).all())
        # PyTorch's own padding (-inf semantics) gives no zeros: the two really differ.
        assert int((F.max_pool2d(x, 3, 2, padding=1) == 0).sum()) == 0
    print("stem pool (docs/spec.md 7.5): zero padding takes part in the max: 112 -> 56x56 with 111 "
          "zeros, 113 -> 57x57 with 224 zeros on negative input; -inf padding gives none",
          flush=True)


def check_stem_pool_matters(model, x, logits):
    """The reference must tell a zero-padded stem pool from PyTorch's -inf padding: the
    logits have to move by well over the 1e-3 (scaled) tolerance of the C++ tests."""
    model.stem_pool = lambda F, y: F.max_pool2d(y, 3, 2, padding=1)  # shadows the static
    try:
        other = model.head(model.features(x).mean(dim=(2, 3)))
    finally:
        del model.stem_pool
    err = float(((other - logits).abs() / logits.abs().clamp(min=1)).max())
    assert err > 1e-2, (model.name, "stem-pool padding barely changes the logits", err)
    print(f"  {model.name}: -inf-padded stem pool would move the logits by {err:.3f} "
          f"(scaled), {err / 1e-3:.0f}x the tolerance", flush=True)


def check_counts(name, weights):
    total, notop, arrays, arrays_notop = SPEC_COUNTS[name]
    count = sum(int(v.size) for v in weights.values())
    head = [k for k in weights if k.startswith("predictions/")]
    count_notop = count - sum(int(weights[k].size) for k in head)
    assert (count, count_notop) == (total, notop), (name, count, count_notop)
    assert (len(weights), len(weights) - len(head)) == (arrays, arrays_notop), name
    assert list(weights) == list(keras_arch.keras_weights(name)), name
    if name in BASIC_V2_COUNTS:
        moving = sum(int(v.size) for k, v in weights.items() if "/moving_" in k)
        expected = BASIC_V2_COUNTS[name]
        assert (count, count - moving, moving) == expected[:3], (name, count, moving)
        print(f"  {name}: parameters {count:,} (trainable {count - moving:,}, non-trainable "
              f"{moving:,}); without top {count_notop:,} (trainable {count_notop - moving:,}); "
              f"weight arrays {len(weights)} / {len(weights) - len(head)} without top",
              flush=True)


def torchvision_v1(torch, name, weights):
    """KV1 built a second, independent way: torchvision's ResNet with the stride moved to
    the first 1x1 (the paper's V1), biased convs and Keras' BN epsilon. Stem pools agree
    because KV1 pools non-negative values (docs/spec.md 1.7)."""
    import torchvision
    depth, _ = keras_arch.parse_variant(name)
    model = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    t = {k: torch.from_numpy(v) for k, v in weights.items()}

    def conv(module, layer):
        module.weight.copy_(t[f"{layer}/kernel"].permute(3, 2, 0, 1))
        module.bias = torch.nn.Parameter(t[f"{layer}/bias"].clone())

    def bn(module, layer):
        module.eps = keras_arch.BN_EPSILON
        module.weight.copy_(t[f"{layer}/gamma"])
        module.bias.copy_(t[f"{layer}/beta"])
        module.running_mean.copy_(t[f"{layer}/moving_mean"])
        module.running_var.copy_(t[f"{layer}/moving_variance"])

    conv(model.conv1, "conv1_conv")
    bn(model.bn1, "conv1_bn")
    for s in range(1, 5):
        for b, block in enumerate(getattr(model, f"layer{s}")):
            p = f"conv{s + 1}_block{b + 1}"
            for k in (1, 2, 3):
                conv(getattr(block, f"conv{k}"), f"{p}_{k}_conv")
                bn(getattr(block, f"bn{k}"), f"{p}_{k}_bn")
            if block.downsample is not None:
                conv(block.downsample[0], f"{p}_0_conv")
                bn(block.downsample[1], f"{p}_0_bn")
                block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    model.fc.weight.copy_(t["predictions/kernel"].t())
    model.fc.bias.copy_(t["predictions/bias"])
    return model


def generate(outdir, name, torch):
    seed = SEED_BASE + keras_arch.VARIANTS.index(name)
    weights = random_weights(torch, name, seed)
    check_counts(name, weights)
    model = KerasResNet(torch, name, weights)
    io = OrderedDict()
    for k, (label, h, w) in enumerate(ref.SIZES):
        x = ref.random_input(torch, seed * 10 + k, h, w)
        model.macs = 0
        fmap = model.features(x)
        expect = (ref.BATCH, keras_arch.feature_channels(name), (h + 31) // 32, (w + 31) // 32)
        assert tuple(fmap.shape) == expect, (fmap.shape, expect)
        pooled_avg = fmap.mean(dim=(2, 3))
        pooled_max = fmap.amax(dim=(2, 3))
        logits = model.head(pooled_avg)
        probs = torch.softmax(logits, dim=1)
        if label == "224x224":
            assert model.macs == SPEC_MACS[name], (name, model.macs)
            if name in BASIC_V2_COUNTS:
                print(f"  {name}: {model.macs:,} MACs at 224x224 (convolutions + dense)")
        if name in BASIC_V2_COUNTS:
            print(f"  {name} {label}: fmap {fmap.shape[2]}x{fmap.shape[3]} = "
                  f"ceil({h}/32) x ceil({w}/32)")
        io[f"input_{label}"] = x
        io[f"logits_{label}"] = logits
        io[f"probs_{label}"] = probs
        io[f"pooled_avg_{label}"] = pooled_avg
        io[f"pooled_max_{label}"] = pooled_max
        io[f"fmap_{label}"] = fmap.contiguous()
        print(f"  {name} {label}: fmap {list(fmap.shape)} std {fmap.std():.3f}, logits std "
              f"{logits.std():.3f} max|.| {logits.abs().max():.3f}, sample-to-sample logit "
              f"diff std {(logits[0] - logits[1]).std():.3f}, max prob {probs.max():.3f}",
              flush=True)
    assert model.used == set(weights), sorted(set(weights) - model.used)[:5]
    if name in BASIC_V2_COUNTS:
        check_stem_pool_matters(model, io["input_224x224"], io["logits_224x224"])
    if not model.v2:
        x, logits = io["input_224x224"], io["logits_224x224"]
        other = torchvision_v1(torch, name, weights)(x)
        err = float(((other - logits).abs() / logits.abs().clamp(min=1)).max())
        assert err < 1e-4, (name, "torchvision-based V1 disagrees", err)
        print(f"  {name}: torchvision-based V1 agrees (max rel diff {err:.1e})")
    weights_path = os.path.join(outdir, f"keras_{name}.safetensors")
    io_path = os.path.join(outdir, f"keras_{name}_io.safetensors")
    ref.write_safetensors(weights_path, weights, OrderedDict(
        [("source", "keras"), ("variant", name), ("kernel_layout", "HWIO"),
         ("seed", str(seed))]))
    ref.write_safetensors(io_path, io, {"source": "keras", "variant": name, "layout": "NCHW"})
    return [weights_path, io_path]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--variants", nargs="+", default=list(keras_arch.VARIANTS),
                        choices=keras_arch.VARIANTS)
    args = parser.parse_args()
    sources = ref.sources_of(os.path.abspath(__file__),
                             os.path.join(ref.HERE, "keras_arch.py"))
    pending = []
    for name in args.variants:
        outputs = [os.path.join(args.outdir, f"keras_{name}{s}.safetensors")
                   for s in ("", "_io")]
        if not args.force and ref.up_to_date(outputs, sources):
            print(f"{name}: up to date")
        else:
            pending.append(name)
    if not pending:
        return
    torch = ref.setup_torch()  # imported only when there is work: keeps re-runs fast
    os.makedirs(args.outdir, exist_ok=True)
    check_stem_pool_semantics(torch)
    for name in pending:
        print(f"{name}:", flush=True)
        with ref.Timer(f"{name} total"):
            paths = generate(args.outdir, name, torch)
        ref.mark_up_to_date(paths, sources)
        print(f"  {ref.file_size_mb(paths):.1f} MB written", flush=True)


if __name__ == "__main__":
    main()
