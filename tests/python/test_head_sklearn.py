#!/usr/bin/env python3
"""The head that example_transfer fits in C++ against scikit-learn's on the same features.

    test_head_sklearn.py WORK_DIR

WORK_DIR holds what example_transfer wrote: transfer_{train,test}_features.safetensors
(the CIFAR ResNet-56 backbone's pooled features of ../shared/data/cifar10/train and test)
and transfer_head.safetensors. scikit-learn's LogisticRegression(C=1.0) (lbfgs, its
defaults: the setting of ../shared/data/README.md, 85.0 % with PyTorch's features) is fitted
on the same training features; the library's head must be within 0.5 points of it on the
test features, and reach 84.5 %. Exits 77 (skipped) without the files or scikit-learn.
"""

import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))


def main():
    work = sys.argv[1]
    names = ["transfer_train_features", "transfer_test_features", "transfer_head"]
    paths = [os.path.join(work, n + ".safetensors") for n in names]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"skipped: {missing[0]} is absent (example_transfer did not run)")
        return 77
    try:
        import numpy as np
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
    except ImportError as e:
        print(f"skipped: {e} (Debian: python3-sklearn)")
        return 77
    import safetensors_io as st

    train, train_meta = st.read_with_metadata(paths[0])
    test, _ = st.read_with_metadata(paths[1])
    head, head_meta = st.read_with_metadata(paths[2])
    classes = json.loads(train_meta["classes"])
    x, y = train["features"].astype(np.float64), train["labels"].astype(np.int64)
    xt, yt = test["features"].astype(np.float64), test["labels"].astype(np.int64)

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs stops at max_iter=100, as in the README's figure
        reference = LogisticRegression(C=1.0).fit(x, y)
    seconds = time.perf_counter() - start
    sk_train, sk_test = reference.score(x, y), reference.score(xt, yt)

    weight, bias = head["linear.weight"].astype(np.float64), head["linear.bias"].astype(np.float64)
    ours = lambda a: np.argmax(a @ weight.T + bias, axis=1)
    our_train, our_test = np.mean(ours(x) == y), np.mean(ours(xt) == yt)
    print(f"{len(y)} training and {len(yt)} test images, {x.shape[1]} features, {len(classes)} classes")
    print(f"scikit-learn: train {100 * sk_train:.2f} %, test {100 * sk_test:.2f} % (fit {seconds:.2f} s, "
          f"{int(reference.n_iter_[0])} iterations)")
    print(f"library head: train {100 * our_train:.2f} %, test {100 * our_test:.2f} %")

    failures = []
    if json.loads(head_meta.get("classes", "[]")) != classes:
        failures.append("the head file's class names are not the training folder's")
    if abs(our_test - sk_test) > 0.005:
        failures.append(f"test accuracy differs from scikit-learn's by {100 * abs(our_test - sk_test):.2f} points")
    if our_test < 0.845:
        failures.append(f"test accuracy {100 * our_test:.2f} % is below 84.5 %")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
