"""Keras ResNet layer lists (KV1 ResNet50/101/152, KV2 ResNet50V2/101V2/152V2), docs/spec.md 4.2 and
Appendix C: every layer in creation order with the weights it owns, Keras shapes (HWIO
kernels, [in, out] dense kernel), weights in Keras order (trainable, then non-trainable).

Keras has no 18/34-layer V2; our library's ResNet18V2/ResNet34V2 are basic-block models in
the KV2 style (KV2 stem, stride in a stage's last block, max-pool shortcut, post BN):
  block P, planes p:  a = ReLU(P_preact_bn(x))
                      shortcut = P_0_conv(a) (1x1, bias) if C_in != p, else 1x1/2 max
                      pool of x if strided, else x
                      h = ReLU(P_1_bn(P_1_conv(a)))  (3x3, stride, no bias)
                      out = shortcut + P_2_conv(h)   (3x3, bias, no BN, no ReLU after)
"""

from collections import OrderedDict

STAGE_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                152: (3, 8, 36, 3)}
BASIC_DEPTHS = (18, 34)  # basic (two 3x3) blocks, expansion 1; the others are bottlenecks
# Appended, never reordered: a variant's position seeds its random weights.
VARIANTS = ("resnet50", "resnet101", "resnet152", "resnet50v2", "resnet101v2", "resnet152v2",
            "resnet18v2", "resnet34v2")
BN_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")
BN_EPSILON = 1.001e-5  # docs/spec.md 1.9, KV1 and KV2


def parse_variant(name):
    """'resnet101v2' -> (101, True)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown Keras ResNet variant {name!r}; expected one of {VARIANTS}")
    v2 = name.endswith("v2")
    return int(name[len("resnet"):len(name) - (2 if v2 else 0)]), v2


def is_basic(name):
    """True for the basic-block variants (resnet18v2, resnet34v2)."""
    return parse_variant(name)[0] in BASIC_DEPTHS


def expansion(name):
    return 1 if is_basic(name) else 4


def feature_channels(name):
    """Channels of the last stage's output: 512 (basic) or 2048 (bottleneck)."""
    return 512 * expansion(name)


def branch_end_conv(name):
    """Suffix of the conv that ends a V2 residual branch (no BN after it)."""
    return "_2_conv" if is_basic(name) else "_3_conv"


def _conv(name, k, cin, cout, bias):
    weights = [("kernel", (k, k, cin, cout))]
    if bias:
        weights.append(("bias", (cout,)))
    return (name, weights)


def _bn(name, c):
    return (name, [(w, (c,)) for w in BN_WEIGHTS])


def _none(name):
    return (name, [])


def block_plan(name):
    """[(block name, filters, stride, has_projection, C_in)] in order (docs/spec.md 1.4-1.6)."""
    depth, v2 = parse_variant(name)
    e = expansion(name)
    plan = []
    cin = 64
    for s, blocks in enumerate(STAGE_BLOCKS[depth]):
        f = 64 << s
        for b in range(1, blocks + 1):
            if v2:
                # Stride on the 3x3 of the last block of conv2..conv4; projection stride 1.
                stride = 2 if (b == blocks and s < 3) else 1
            else:
                stride = 2 if (b == 1 and s > 0) else 1
            # Bottlenecks project in every first block; basic blocks only where C_in != f.
            proj = b == 1 and cin != e * f
            plan.append((f"conv{s + 2}_block{b}", f, stride, proj, cin))
            cin = e * f
    return plan


def keras_layers(name, include_top=True, classes=1000):
    """Every layer of the model as (layer name, [(weight name, shape)]), creation order."""
    depth, v2 = parse_variant(name)
    layers = [_none("input_1"), _none("conv1_pad"), _conv("conv1_conv", 7, 3, 64, True)]
    if not v2:
        layers += [_bn("conv1_bn", 64), _none("conv1_relu")]
    layers += [_none("pool1_pad"), _none("pool1_pool")]
    pool_index = 0
    for p, f, stride, proj, cin in block_plan(name):
        if not v2:
            if proj:
                layers += [_conv(f"{p}_0_conv", 1, cin, 4 * f, True), _bn(f"{p}_0_bn", 4 * f)]
            layers += [_conv(f"{p}_1_conv", 1, cin, f, True), _bn(f"{p}_1_bn", f),
                       _none(f"{p}_1_relu"),
                       _conv(f"{p}_2_conv", 3, f, f, True), _bn(f"{p}_2_bn", f),
                       _none(f"{p}_2_relu"),
                       _conv(f"{p}_3_conv", 1, f, 4 * f, True), _bn(f"{p}_3_bn", 4 * f),
                       _none(f"{p}_add"), _none(f"{p}_out")]
        else:
            layers += [_bn(f"{p}_preact_bn", cin), _none(f"{p}_preact_relu")]
            if proj:
                layers.append(_conv(f"{p}_0_conv", 1, cin, expansion(name) * f, True))
            elif stride > 1:
                # Unnamed MaxPooling2D(1, strides) shortcut: Keras auto-names it.
                layers.append(_none("max_pooling2d" + (f"_{pool_index}" if pool_index else "")))
                pool_index += 1
            if is_basic(name):
                layers += [_none(f"{p}_1_pad"),
                           _conv(f"{p}_1_conv", 3, cin, f, False), _bn(f"{p}_1_bn", f),
                           _none(f"{p}_1_relu"), _none(f"{p}_2_pad"),
                           _conv(f"{p}_2_conv", 3, f, f, True), _none(f"{p}_out")]
            else:
                layers += [_conv(f"{p}_1_conv", 1, cin, f, False), _bn(f"{p}_1_bn", f),
                           _none(f"{p}_1_relu"), _none(f"{p}_2_pad"),
                           _conv(f"{p}_2_conv", 3, f, f, False), _bn(f"{p}_2_bn", f),
                           _none(f"{p}_2_relu"),
                           _conv(f"{p}_3_conv", 1, f, 4 * f, True), _none(f"{p}_out")]
    c = feature_channels(name)
    if v2:
        layers += [_bn("post_bn", c), _none("post_relu")]
    if include_top:
        layers += [_none("avg_pool"), ("predictions", [("kernel", (c, classes)),
                                                       ("bias", (classes,))])]
    return layers


def keras_weights(name, include_top=True, classes=1000):
    """OrderedDict key `<layer>/<weight>` -> shape, in Keras weight order."""
    out = OrderedDict()
    for layer, weights in keras_layers(name, include_top, classes):
        for w, shape in weights:
            out[f"{layer}/{w}"] = shape
    return out
