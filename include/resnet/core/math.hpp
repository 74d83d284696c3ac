#pragma once
/// The two score helpers shared by the classifier, label decoding and the tools: a
/// stable softmax and the ranking of classes by score.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace resnet {

/// Row-wise softmax in place over a rows x cols row-major matrix. Each row is shifted by
/// its maximum first, so large logits do not overflow exp; the sum accumulates in double.
inline void softmax_rows(float* data, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    float* x = data + static_cast<std::size_t>(r) * cols;
    float top = x[0];
    for (int c = 1; c < cols; ++c) top = x[c] > top ? x[c] : top;
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += (x[c] = std::exp(x[c] - top));
    for (int c = 0; c < cols; ++c) x[c] = static_cast<float>(x[c] / sum);
  }
}

/// The indices of the `k` highest of scores[0, count), best first (all of them when k >=
/// count). Ties go to the lower index and NaN ranks after every number, so the order is
/// total: the same scores always give the same classes.
inline std::vector<int> top_k(const float* scores, int count, int k) {
  std::vector<int> order(static_cast<std::size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
  auto before = [scores](int a, int b) {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
  };
  const auto keep = order.begin() + std::clamp(k, 0, std::max(count, 0));
  std::partial_sort(order.begin(), keep, order.end(), before);
  order.erase(keep, order.end());
  return order;
}

}  // namespace resnet
