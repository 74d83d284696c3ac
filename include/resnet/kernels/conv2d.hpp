#pragma once
/// ConvKernel: one convolution layer's fast kernel. Weights are packed (or Winograd-
/// transformed) once in the constructor; run() allocates nothing, touches only in, out,
/// residual and the caller's scratch, and splits its work over the given ThreadPool.
///
/// Algorithm by shape:
///   1x1 stride 1      GEMM straight over the NHWC input (no copy);
///   1x1 stride > 1    GEMM over the strided pixels, read in place;
///   3x3 stride 1      Winograd (see winograd.hpp for the F(2x2)/F(4x4) choice);
///   3x3 stride 2      Winograd F(2x2) stride 2 up to 256 x 256 channels, else as below;
///   anything else     GEMM over im2col windows, in cache-sized slices, read in place
///                     except where a window crosses the image border.
/// Grouped (groups > 1):
///   equal in/out per group, 16 % G == 0 or G % 16 == 0 (ResNeXt): direct (grouped.hpp);
///   otherwise         one ConvKernel per group, each group's channels copied out and back.
/// bf16 (the Precision constructor): an ungrouped conv that the LowpLayers choice gives to
/// bf16 runs gemm_bf16: run() with fp32 maps in and out, a 1x1 over the same fp32 column
/// sources as the GEMM path (each block of columns converted while packing), a k x k conv
/// over its input map converted to bf16 once, into scratch; its weights are rounded and
/// packed once, and no fp32 copy is kept. Every other conv is the fp32 kernel above.
/// run_bf16_maps() takes the input and residual as bf16 (read in place, the values run()
/// would have rounded to) and writes bf16, as does an fp32 Winograd conv's output: a bf16
/// model hands bf16 maps between its convs (ConvUnit).
/// int8 (the QuantParams constructor): an ungrouped conv runs gemm_int8. Its weights are
/// quantized per output channel to s8 and packed once (no fp32 copy); run() quantizes the
/// fp32 input map to u8 by the calibrated QuantParams into scratch, once, and the GEMM
/// reads it through the u8 column sources, in place where it can. The epilogue
/// dequantizes, adds bias and the fp32 residual, applies ReLU and writes fp32.
/// run_int8() keeps maps u8 between int8 convs (a block's main path, see ConvUnit): it
/// takes the input already quantized and writes the output requantized by the next
/// conv's input quantization (the bytes that conv would have made of the fp32 map); it
/// can also add a u8 residual (the models keep theirs fp32: docs/lowp.md says why).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/precision.hpp"
#include "resnet/core/separate.hpp"
#include "resnet/core/thread_pool.hpp"
#include "resnet/kernels/conv_params.hpp"
#include "resnet/kernels/gemm.hpp"
#include "resnet/kernels/gemm_bf16.hpp"
#include "resnet/kernels/gemm_int8.hpp"
#include "resnet/kernels/grouped.hpp"
#include "resnet/kernels/im2col.hpp"
#include "resnet/kernels/winograd.hpp"

namespace resnet::kernels {

/// Which algorithm a ConvKernel uses. `automatic` picks from the shape (the normal
/// choice); the others exist so benchmarks and tests can compare the paths. For a grouped
/// conv, gemm / winograd_* run that algorithm once per group and `direct` is grouped.hpp.
enum class ConvAlgorithm { automatic, gemm, winograd_2x2, winograd_4x4, direct };

class ConvKernel {
 public:
  ConvKernel() = default;

  /// weight_ohwi: out_c * k * k * in_c floats (BN folded); bias: empty or out_c floats.
  ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi, std::vector<float> bias,
             ConvAlgorithm algorithm = ConvAlgorithm::automatic);

  /// The same at `precision`: bf16 packs the weights for gemm_bf16 where `layers` gives
  /// this conv to bf16 (see the header comment) and throws ErrorKind::unsupported_cpu
  /// where this CPU or build cannot run it; fp32 is the constructor above. int8 needs the
  /// input's quantization: the constructor below (here an invalid_argument Error).
  ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi, std::vector<float> bias, Precision precision,
             LowpLayers layers = LowpLayers::measured);

  /// int8: the weights quantized per output channel (quantize_weights_per_channel, PyTorch's
  /// symmetric qint8 observer), the fp32 input quantized per tensor to u8 by `input` (a
  /// calibrated range, affine_u8_qparams) on every run. A grouped conv stays fp32 (the
  /// first constructor). Throws ErrorKind::unsupported_cpu without AVX512-VNNI, and
  /// invalid_argument for a scale that is not positive and finite or a zero point outside
  /// [0, 255].
  ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi, std::vector<float> bias, QuantParams input);

  /// Whether `layers` gives a conv of shape `s` to bf16: never a grouped one; with
  /// `measured`, not a stride-1 3x3 that fp32 runs as Winograd F(4x4), which beat bf16
  /// through im2col on every such ResNet-50 layer (0.68-0.87x, docs/lowp.md); F(2x2) at
  /// 7x7 lost to bf16 (1.23x) and stays bf16.
  static bool runs_bf16(const ConvShape& s, LowpLayers layers) {
    if (s.groups != 1) return false;
    if (layers == LowpLayers::all) return true;
    const bool winograd_4x4 = s.kernel == 3 && s.stride == 1 && s.pad <= 2 && !detail::winograd_prefers_2x2(s);
    return !winograd_4x4;
  }

  /// The precision this conv computes in (fp32 for a conv a bf16 model keeps in fp32).
  Precision precision() const { return precision_; }

  const ConvShape& shape() const { return shape_; }
  const float* bias() const { return bias_.empty() ? nullptr : bias_.data(); }
  /// Short name of the chosen algorithm ("gemm_1x1", "gemm_1x1_strided", "im2col_gemm",
  /// "winograd_2x2", "winograd_4x4"; grouped: "grouped_direct", "grouped_" + the per-group
  /// kernel's), for logs and benchmarks.
  std::string algorithm_name() const {
    if (precision_ != Precision::fp32)
      return to_string(precision_) + std::string("_") +
             (path_ == Path::patch ? "im2col_gemm" : path_ == Path::pointwise ? "gemm_1x1" : "gemm_1x1_strided");
    switch (path_) {
      case Path::grouped_direct: return "grouped_direct";
      case Path::per_group: return "grouped_" + groups_.front().algorithm_name();
      case Path::pointwise: return "gemm_1x1";
      case Path::pointwise_strided: return "gemm_1x1_strided";
      case Path::patch: return "im2col_gemm";
      case Path::winograd:
        return winograd_.tile() == 4 ? "winograd_4x4" : shape_.stride == 2 ? "winograd_2x2_s2" : "winograd_2x2";
    }
    return "?";
  }

  /// Scratch floats run() needs for an n x h x w input with a pool of up to `threads` threads.
  std::size_t scratch_floats(int n, int h, int w, int threads) const {
    threads = std::max(threads, 1);
    if (precision_ == Precision::int8) {
      const std::size_t bytes = int8_scratch_offset(threads) + std::size_t(n) * h * w * shape_.in_c;
      return (bytes + sizeof(float) - 1) / sizeof(float);
    }
    if (precision_ == Precision::bf16)
      return static_cast<std::size_t>(threads) * static_cast<std::size_t>(bf16_thread_floats()) +
             (bf16_converted_values(n, h, w) + 1) / 2;
    if (path_ == Path::winograd) return winograd_.scratch_floats(n, h, w, threads);
    if (path_ == Path::grouped_direct) return 0;
    if (path_ == Path::per_group) {
      const ConvShape& g = groups_.front().shape();
      return static_cast<std::size_t>(n) * (std::size_t(h) * w * g.in_c + std::size_t(g.out_side(h)) * g.out_side(w) * g.out_c) +
             groups_.front().scratch_floats(n, h, w, threads);
    }
    return static_cast<std::size_t>(threads) * static_cast<std::size_t>(detail::rhs_scratch_floats(kc_, kNc));
  }

  /// out = conv(in) + bias() + residual, then a ReLU if `relu`. in: NHWC n x h x w x in_c;
  /// out: NHWC n x out_h x out_w x out_c, which must not overlap in (it may be `residual`
  /// itself: each element is read before written); residual: null or out's shape.
  /// scratch: scratch_floats(n, h, w, t) floats with t >= pool.size(). No heap allocation.
  void run(const float* in, int n, int h, int w, float* out, const float* residual, bool relu, float* scratch,
           ThreadPool& pool) const;

  /// int8: how run() quantizes the fp32 input; null at any other precision.
  const QuantParams* int8_input() const noexcept { return precision_ == Precision::int8 ? &int8_input_ : nullptr; }

  /// The u8 maps an int8 conv's run_int8 reads or writes in place of fp32 ones.
  struct U8Maps {
    const std::uint8_t* in = nullptr;        ///< the input quantized by int8_input(); null: quantize `in`
    std::uint8_t* out = nullptr;             ///< the output requantized by out_q; null: fp32 to `out`
    QuantParams out_q;
    const std::uint8_t* residual = nullptr;  ///< the residual, quantized by residual_q; null: the fp32 one
    QuantParams residual_q;
    const std::uint16_t* residual_bf16 = nullptr;  ///< the residual as bf16 bits; null: the fp32 one
    std::uint16_t* out_bf16 = nullptr;  ///< also (or only) the output rounded to bf16 (a block output)
  };

  /// An int8 conv's run() with u8 maps at any of its ends. A u8 input gives the bytes
  /// run() would quantize `in` to, and a u8 output the bytes quantize_u8_map would make of
  /// run()'s: byte for byte. A u8 residual adds (r - zero point) * scale, fused (as
  /// gemm_int8's epilogue); a bf16 one adds r widened. A bf16 output is run()'s rounded
  /// by to_bf16_bits, written beside the u8 one where both are asked for. Throws invalid_argument for a kernel that is not int8, or a
  /// scale that is not positive and finite or a zero point outside [0, 255].
  void run_int8(const float* in, int n, int h, int w, float* out, const float* residual, bool relu, const U8Maps& u8,
                float* scratch, ThreadPool& pool) const;

  /// The bf16 maps a bf16 conv's run_bf16_maps reads or writes in place of fp32 ones.
  struct Bf16Maps {
    const std::uint16_t* in = nullptr;        ///< the input as bf16 bits; null: convert the fp32 `in`
    const std::uint16_t* residual = nullptr;  ///< the residual as bf16 bits; null: the fp32 one, if any
    std::uint16_t* out = nullptr;             ///< the output rounded to bf16; null: fp32 to `out`
  };

  /// Whether run_bf16_maps takes bf16 maps (input, residual, output): a bf16 conv, or one
  /// that a bf16 model keeps in fp32 and runs as Winograd (the stride-1 3x3s), which widens
  /// its bf16 input and residual and rounds its output. An fp32 model's convs do not.
  bool takes_bf16() const noexcept { return precision_ == Precision::bf16 || bf16_model_winograd_; }

  /// run() with bf16 maps at any of its ends. A bf16 input gives a bf16 conv the values
  /// run() converts `in` to (to_bf16_bits), so the same output, and a Winograd conv its
  /// widened values; a bf16 residual adds r widened; a bf16 output is run()'s rounded by
  /// to_bf16_bits. Throws invalid_argument where !takes_bf16(), or for two residuals.
  void run_bf16_maps(const float* in, int n, int h, int w, float* out, const float* residual, bool relu,
                     const Bf16Maps& maps, float* scratch, ThreadPool& pool) const;

 private:
  // The constructors' checks of the shape and of the weight and bias counts.
  static void validate(const ConvShape& s, std::size_t weights, std::size_t biases) {
    if (s.in_c <= 0 || s.out_c <= 0 || s.kernel <= 0 || s.stride <= 0 || s.pad < 0 || s.pad >= s.kernel ||
        s.groups <= 0 || s.in_c % s.groups != 0 || s.out_c % s.groups != 0)
      throw Error(ErrorKind::invalid_argument,
                  "ConvKernel: invalid shape in_c=" + std::to_string(s.in_c) + " out_c=" +
                      std::to_string(s.out_c) + " kernel=" + std::to_string(s.kernel) + " stride=" +
                      std::to_string(s.stride) + " pad=" + std::to_string(s.pad) + " groups=" +
                      std::to_string(s.groups) + " (in_c and out_c must be multiples of groups)");
    if (static_cast<long long>(weights) != s.weight_count())
      throw Error(ErrorKind::shape_mismatch, "ConvKernel: weight has " + std::to_string(weights) +
                                                 " values, expected " + std::to_string(s.weight_count()) +
                                                 " (out_c * k * k * in_c / groups)");
    if (biases != 0 && static_cast<int>(biases) != s.out_c)
      throw Error(ErrorKind::shape_mismatch, "ConvKernel: bias has " + std::to_string(biases) +
                                                 " values, expected " + std::to_string(s.out_c));
  }

  enum class Path { pointwise, pointwise_strided, patch, winograd, grouped_direct, per_group };

  // A u8 quantization the int8 kernels take: a positive finite scale, a zero point in
  // [0, 255]; `what` names it in the Error (a C string: run_int8 checks on every call
  // and must not allocate).
  static void check_u8_params(const QuantParams& q, const char* what) {
    if (!(q.scale > 0.0f) || !std::isfinite(q.scale) || q.zero_point < 0 || q.zero_point > 255)
      throw Error(ErrorKind::invalid_argument, std::string(what) + " scale " + std::to_string(q.scale) + " and zero point " +
                                                   std::to_string(q.zero_point) +
                                                   " (expected a positive finite scale and a zero point in [0, 255])");
  }

  // An n x h x w input the kernel can take (the window fits the padded map).
  void check_input(int n, int h, int w, const char* entry) const {
    const ConvShape& s = shape_;
    if (n <= 0 || h <= 0 || w <= 0 || h + 2 * s.pad < s.kernel || w + 2 * s.pad < s.kernel)
      throw Error(ErrorKind::shape_mismatch,
                  std::string("ConvKernel::") + entry + ": input " + std::to_string(n) + "x" + std::to_string(h) + "x" +
                      std::to_string(w) + " too small for a " + std::to_string(s.kernel) + "x" +
                      std::to_string(s.kernel) + " window with padding " + std::to_string(s.pad));
  }

  // What the bf16 and int8 constructors share: the checks, shape, bias and GEMM path;
  // returns the GEMM depth K their weights are packed with.
  detail::Index start_lowp(const ConvShape& s, std::size_t weights, std::vector<float> bias) {
    validate(s, weights, bias.size());
    shape_ = s;
    bias_ = std::move(bias);
    path_ = s.kernel == 1 && s.pad == 0 ? (s.stride == 1 ? Path::pointwise : Path::pointwise_strided) : Path::patch;
    return detail::Index(s.kernel) * s.kernel * s.in_c;
  }
  static constexpr detail::Index kMc = detail::kBlockMc;
  static constexpr detail::Index kNc = detail::kBlockNc;
  static constexpr detail::Index kKc = detail::kBlockKc;

  // Depth blocks that end on window-row boundaries let the packer read interior pixels in place.
  static detail::Index choose_kc(const ConvShape& s, detail::Index depth) {
    const detail::Index row = detail::Index(s.kernel) * s.in_c;
    if (s.kernel > 1) {
      if (row <= kKc) return std::min(depth, row * (kKc / row));
      for (detail::Index parts = 2; parts <= 16; ++parts)
        if (row % parts == 0 && row / parts <= kKc && (row / parts) % 8 == 0) return row / parts;
    }
    return detail::even_block(depth, kKc, 8);
  }

  template <class Source>
  void run_gemm(const Source& src, detail::Index columns, float* out, const detail::OutputEpilogue& e, float* scratch,
                ThreadPool& pool) const {
    using detail::Index;
    const Index threads = pool.size();
    const Index m = shape_.out_c;
    // Column slices, a multiple of the thread count so every thread gets the same share.
    // Few columns: one slice per thread while each keeps at least 32 columns; below that
    // (7x7 maps at batch 1), split the output channels instead where there are at least
    // two row blocks per thread, so each thread streams its share of the weights rather
    // than all of them (1x1 layers of 1024-2048 outputs at 7x7, 2 threads: CPU time -12%
    // to -15%); fewer row blocks would leave the threads unequal shares.
    // Wide slices are cut on 8-column boundaries (whole register tiles), leaving the
    // remainder to the last slice: only that one ends in a narrower tile, and it is the
    // one handed out last, to whichever thread is free first. Measured at 2 threads: 14x14
    // and 28x28 layers 5-9% faster than equal slices of 98 / 196 columns.
    // With one slice per thread there is no later slice to even out the shares, so the
    // cuts round down rather than up: 196 columns as 96 + 100 (12 pairs of tiles; 12 and
    // a 4-column group), not 104 + 92 (13; 11 and a half). ResNeXt-50's 14x14 1x1s at 2
    // threads, per job, alternated: 3-7% faster (the workers spin between jobs, so the
    // caller's slice starts no earlier than the worker's).
    Index slices = detail::ceil_div(columns, kNc);
    Index row_parts = 1;
    if (slices >= threads) {
      slices = detail::round_up(slices, threads);
    } else if (detail::ceil_div(columns, threads) >= (lhs_.m_blocks() >= 2 * threads ? 32 : 16)) {
      slices = threads;
    } else {
      row_parts = std::min<Index>(lhs_.m_blocks(), detail::ceil_div(threads, slices));
    }
    Index nc = detail::ceil_div(columns, slices);
    if (slices == threads && nc >= 16 && columns - (slices - 1) * (nc / 8 * 8) <= kNc) {
      nc = nc / 8 * 8;  // the last slice takes the rest, fewer than 8 * slices more columns
    } else {
      if (nc >= 64 && detail::ceil_div(columns, detail::round_up(nc, 8)) == slices) nc = detail::round_up(nc, 8);
      slices = detail::ceil_div(columns, nc);
    }
    const Index tasks = slices * row_parts;
    const Index per_thread = detail::rhs_scratch_floats(kc_, kNc);
    pool.parallel_tasks(tasks, [&](std::ptrdiff_t task, int thread) {
      float* buf = scratch + thread * per_thread;
      const Index slice = task / row_parts, part = task % row_parts;
      const Index col0 = slice * nc, ncols = slice + 1 == slices ? columns - col0 : nc;
      const Index mb0 = lhs_.m_blocks() * part / row_parts, mb1 = lhs_.m_blocks() * (part + 1) / row_parts;
      detail::BlockEpilogue epi;
      epi.relu = e.relu;
      epi.bias = e.bias;
      epi.residual = e.residual ? e.residual + col0 * m : nullptr;
      epi.ldr = m;
      detail::gemm_columns(lhs_, 0, mb0, mb1, src, col0, ncols, out + col0 * m, m, buf, epi);
    });
  }

  // A column source seen from column `first` on: the reduced-precision GEMMs number a
  // call's columns from 0. run_length and columns are the int8 sources' (instantiated
  // only for them).
  template <class Source>
  struct ColumnsFrom {
    const Source& src;
    detail::Index first;
    using Element =
        std::remove_cv_t<std::remove_pointer_t<decltype(std::declval<const Source&>().segment(0, 0, 0, nullptr))>>;
    const Element* segment(detail::Index col, detail::Index k0, detail::Index len, Element* tmp) const {
      return src.segment(first + col, k0, len, tmp);
    }
    detail::Index run_length(detail::Index k) const { return src.run_length(k); }
    void columns(detail::Index col0, detail::Index count, detail::Index run, detail::Index segments,
                 detail::Index depth, const Element** table, Element* tmp) const {
      column_table(src, first + col0, count, run, segments, depth, table, tmp);
    }
  };

  // Where the u8 input map starts in run_int8's scratch: after each thread's GEMM scratch
  // (a window over the border is gathered there), 64-byte aligned.
  std::size_t int8_scratch_offset(int threads) const {
    if (path_ != Path::patch) return 0;
    const auto per_thread = static_cast<std::size_t>(gemm_int8_scratch_bytes(int8_.depth()) + 63) / 64 * 64;
    return static_cast<std::size_t>(threads) * per_thread;
  }

  // The input quantized once into scratch (a 3x3 conv reads each pixel nine times) unless
  // it comes quantized, then column slices as run_bf16's: as few as the threads allow,
  // whole 8-column tiles. Output to `out` (fp32), or to u8.out and / or u8.out_bf16.
  void run_int8_gemm(const float* in, int n, int h, int w, detail::Index oh, detail::Index ow, float* out,
                     const detail::OutputEpilogue& e, const U8Maps& u8, float* scratch, ThreadPool& pool) const {
    using detail::Index;
    const ConvShape& s = shape_;
    auto* bytes = reinterpret_cast<std::uint8_t*>(scratch);
    const std::uint8_t* q = u8.in;
    if (!q) {
      std::uint8_t* to = bytes + int8_scratch_offset(pool.size());
      const Index count = Index(n) * h * w * s.in_c;
      pool.parallel_for(count, [&](std::ptrdiff_t b, std::ptrdiff_t end) { quantize_u8_map(in + b, end - b, int8_input_, to + b); });
      q = to;
    }
    const Index m = s.out_c, columns = Index(n) * oh * ow, threads = pool.size();
    const Index per_thread = static_cast<Index>(int8_scratch_offset(1));
    // Where each thread would get fewer than 32 columns (7x7 maps at batch 1: 32 + 17 in
    // 8-column tiles), the threads split the weights' rows instead, each over all columns,
    // in 16-row vectors (512 rows: 256 each; by 48-row panels 240 and 272, and the caller
    // waited 30 us of each ~260 us 3x3 conv at 7x7).
    const Index panels = int8_.panels().panels(), vectors = int8_.panels().vectors();
    const Index row_parts = threads > 1 && detail::ceil_div(columns, threads) < 32 && panels >= 2 * threads ? threads : 1;
    const Index slices =
        row_parts > 1 ? 1 : detail::round_up(detail::ceil_div(columns, Index(512)), threads);
    const Index nc = row_parts > 1 ? columns : detail::round_up(detail::ceil_div(columns, slices), 8);
    const Index tasks = detail::ceil_div(columns, nc) * row_parts;
    const auto gemm = [&](const auto& src) {
      using Source = std::decay_t<decltype(src)>;
      pool.parallel_tasks(tasks, [&](std::ptrdiff_t task, int thread) {
        const Index col0 = task / row_parts * nc, ncols = std::min(nc, columns - col0), part = task % row_parts;
        Int8Epilogue epi;
        epi.input = int8_input_;
        epi.bias = e.bias;
        epi.residual = e.residual ? e.residual + col0 * m : nullptr;
        epi.residual_u8 = u8.residual ? u8.residual + col0 * m : nullptr;
        epi.residual_q = u8.residual_q;
        epi.residual_bf16 = u8.residual_bf16 ? u8.residual_bf16 + col0 * m : nullptr;
        epi.ldr = m;
        epi.relu = e.relu;
        detail::Int8Output o;
        if (u8.out) o.u8 = u8.out + col0 * m, o.q = u8.out_q;
        if (u8.out_bf16) o.bf16 = u8.out_bf16 + col0 * m;
        if (!u8.out && !u8.out_bf16) o.f32 = out + col0 * m;
        o.ldc = m;
        detail::gemm_int8_run(int8_, ColumnsFrom<Source>{src, col0}, ncols, epi, o,
                              per_thread ? bytes + thread * per_thread : nullptr, vectors * part / row_parts,
                              vectors * (part + 1) / row_parts);
      });
    };
    switch (path_) {
      case Path::pointwise: gemm(DenseColumnsOf<std::uint8_t>{q, s.in_c}); break;
      case Path::pointwise_strided: gemm(U8PixelColumns{q, h, w, s.in_c, oh, ow, s.stride}); break;
      default:
        gemm(U8PatchColumns{q, h, w, s.in_c, s.kernel, s.stride, s.pad, oh, ow,
                            static_cast<std::uint8_t>(int8_input_.zero_point)});
        break;
    }
  }

  // bf16 scratch per thread (gemm_bf16's), whole cache lines; a converted input map follows.
  detail::Index bf16_thread_floats() const { return detail::round_up(gemm_bf16_scratch_floats(bf16_.depth()), 16); }

  // bf16: the input values run() converts to bf16 once, into scratch, for the GEMM to
  // read in place: a k x k window's map, each pixel of which lies in up to k * k columns
  // (the 7x7 stem, 3 channels and every window gathered, took 601-682 us at two threads
  // converting each window as it was packed, 500-527 us so). 0 for a 1x1, whose columns
  // are converted block by block as they are packed: each pixel is read once.
  std::size_t bf16_converted_values(int n, int h, int w) const {
    return path_ == Path::patch ? std::size_t(n) * h * w * static_cast<std::size_t>(shape_.in_c) : 0;
  }

  void run_bf16_conv(const float* in, int n, int h, int w, detail::Index oh, detail::Index ow, float* out,
                     const detail::OutputEpilogue& e, const Bf16Maps& maps, float* scratch, ThreadPool& pool) const {
    const ConvShape& s = shape_;
    const detail::Index columns = detail::Index(n) * oh * ow;
    if (path_ == Path::pointwise) {
      if (maps.in)
        run_bf16(DenseColumnsOf<std::uint16_t>{maps.in, s.in_c}, columns, out, e, maps, scratch, pool);
      else
        run_bf16(detail::DenseColumns{in, s.in_c}, columns, out, e, maps, scratch, pool);
    } else if (path_ == Path::pointwise_strided) {
      if (maps.in)
        run_bf16(Bf16PixelColumns{maps.in, h, w, s.in_c, oh, ow, s.stride}, columns, out, e, maps, scratch, pool);
      else
        run_bf16(detail::StridedColumns{in, h, w, s.in_c, oh, ow, s.stride}, columns, out, e, maps, scratch, pool);
    } else {
      const std::uint16_t* map = maps.in;
      if (!map) {
        auto* converted = reinterpret_cast<std::uint16_t*>(scratch + pool.size() * bf16_thread_floats());
        pool.parallel_for(static_cast<std::ptrdiff_t>(bf16_converted_values(n, h, w)),
                          [&](std::ptrdiff_t b, std::ptrdiff_t end) { convert_to_bf16(converted + b, in + b, end - b); });
        map = converted;
      }
      run_bf16(Bf16PatchColumns{map, h, w, s.in_c, s.kernel, s.stride, s.pad, oh, ow, 0}, columns, out, e, maps,
               scratch, pool);
    }
  }

  // Column slices of whole 8-column tiles, as few as the threads allow: each slice
  // streams every weight panel once more, which the 7x7 and 14x14 layers (2-4 MB of
  // weights, 49-196 columns at batch 1) feel. Wide maps are cut near gemm_bf16's own
  // block of up to 512 columns, in a multiple of the thread count. (Splitting the rows
  // at 7x7 instead, as int8 does, measured no faster: 11.31 against 11.40 ms a pass,
  // medians of eight alternated runs at two threads.)
  template <class Source>
  void run_bf16(const Source& src, detail::Index columns, float* out, const detail::OutputEpilogue& e,
                const Bf16Maps& maps, float* scratch, ThreadPool& pool) const {
    using detail::Index;
    const Index threads = pool.size();
    const Index m = shape_.out_c;
    const Index per_thread = bf16_thread_floats();
    const Index slices = detail::round_up(detail::ceil_div(columns, Index(512)), threads);
    const Index nc = detail::round_up(detail::ceil_div(columns, slices), 8);
    const Index tasks = detail::ceil_div(columns, nc);
    pool.parallel_tasks(tasks, [&](std::ptrdiff_t task, int thread) {
      const Index col0 = task * nc, ncols = std::min(nc, columns - col0);
      Bf16Epilogue epi;
      epi.bias = e.bias;
      epi.residual = e.residual ? e.residual + col0 * m : nullptr;
      epi.residual_bf16 = maps.residual ? maps.residual + col0 * m : nullptr;
      epi.ldr = m;
      epi.relu = e.relu;
      float* tmp = scratch + thread * per_thread;
      if (maps.out)
        gemm_bf16(bf16_, ColumnsFrom<Source>{src, col0}, ncols, epi, maps.out + col0 * m, m, tmp);
      else
        gemm_bf16(bf16_, ColumnsFrom<Source>{src, col0}, ncols, epi, out + col0 * m, m, tmp);
    });
  }

  void build_grouped(const std::vector<float>& weight_ohwi, ConvAlgorithm algorithm) {
    const ConvShape& s = shape_;
    const bool direct_shape = detail::GroupedDirectConv::supports(s);
    if (algorithm == ConvAlgorithm::automatic) algorithm = direct_shape ? ConvAlgorithm::direct : ConvAlgorithm::gemm;
    if (algorithm == ConvAlgorithm::direct) {
      if (!direct_shape)
        throw Error(ErrorKind::invalid_argument,
                    "ConvKernel: the grouped direct kernel needs as many inputs as outputs per group, and "
                    "groups of 1, 2, 4, 8 or a multiple of 16 channels");
      path_ = Path::grouped_direct;
      grouped_ = detail::GroupedDirectConv(s, weight_ohwi.data());
      return;
    }
    // One plain kernel per group: the group's output rows of OHWI are contiguous.
    path_ = Path::per_group;
    const ConvShape g{s.group_in(), s.group_out(), s.kernel, s.stride, s.pad, 1};
    const auto per_group = static_cast<std::ptrdiff_t>(g.weight_count());
    for (int i = 0; i < s.groups; ++i) {
      std::vector<float> bias;
      if (!bias_.empty()) bias.assign(bias_.begin() + i * g.out_c, bias_.begin() + (i + 1) * g.out_c);
      groups_.emplace_back(g, std::vector<float>(weight_ohwi.begin() + i * per_group,
                                                 weight_ohwi.begin() + (i + 1) * per_group),
                           std::move(bias), algorithm);
    }
  }

  // The baseline the direct kernel is measured against: each group's channels copied to a
  // dense tensor, convolved alone, and copied back through the epilogue.
  void run_per_group(const float* in, int n, int h, int w, float* out, const detail::OutputEpilogue& e, float* scratch,
                     ThreadPool& pool) const {
    const ConvShape& s = shape_;
    const ConvShape& g = groups_.front().shape();
    const std::size_t pixels_in = std::size_t(n) * h * w, pixels_out = std::size_t(n) * s.out_side(h) * s.out_side(w);
    float* gin = scratch;
    float* gout = gin + pixels_in * g.in_c;
    float* inner = gout + pixels_out * g.out_c;
    for (int i = 0; i < s.groups; ++i) {
      for (std::size_t p = 0; p < pixels_in; ++p)
        std::copy_n(in + p * s.in_c + i * g.in_c, g.in_c, gin + p * g.in_c);
      groups_[static_cast<std::size_t>(i)].run(gin, n, h, w, gout, nullptr, false, inner, pool);
      for (std::size_t p = 0; p < pixels_out; ++p)
        for (int o = 0; o < g.out_c; ++o) {
          const std::size_t at = p * s.out_c + i * g.out_c + o;
          float v = gout[p * g.out_c + o] + (e.residual ? e.residual[at] : 0.0f);
          if (e.relu && v < 0.0f) v = 0.0f;
          out[at] = v;
        }
    }
  }

  ConvShape shape_{};
  std::vector<float> bias_;
  Path path_ = Path::pointwise;
  detail::Index kc_ = 1;
  detail::PackedLhs lhs_;
  detail::WinogradConv winograd_;
  detail::GroupedDirectConv grouped_;
  std::vector<ConvKernel> groups_;  // per_group
  Precision precision_ = Precision::fp32;
  bool bf16_model_winograd_ = false;  // an fp32 Winograd conv of a bf16 model: bf16 maps at its ends
  PackedBf16Weights bf16_;  // bf16: the weights, in place of lhs_
  PackedInt8Weights int8_;  // int8: the weights, in place of lhs_
  QuantParams int8_input_;  // int8: how the fp32 input is quantized
};


// The entry points into the kernels: with RESNET_SEPARATE_COMPILATION only declared here,
// and compiled once in src/separate.cpp (core/separate.hpp).
#if RESNET_SEPARATE_DEFINITIONS
RESNET_SEPARATE_INLINE ConvKernel::ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi,
                                                std::vector<float> bias, ConvAlgorithm algorithm)
    : shape_(s), bias_(std::move(bias)) {
  validate(s, weight_ohwi.size(), bias_.size());
  if (s.groups > 1) {
    build_grouped(weight_ohwi, algorithm);
    return;
  }
  if (algorithm == ConvAlgorithm::direct)
    throw Error(ErrorKind::invalid_argument, "ConvKernel: the direct kernel is for grouped convolutions");
  const bool winograd_shape = s.kernel == 3 && s.stride == 1 && s.pad <= 2;
  const bool winograd_s2_shape = s.kernel == 3 && s.stride == 2 && s.pad <= 2;
  if (algorithm == ConvAlgorithm::automatic) {
    if (winograd_shape)
      algorithm = detail::winograd_prefers_2x2(s) ? ConvAlgorithm::winograd_2x2 : ConvAlgorithm::winograd_4x4;
    else
      algorithm = winograd_s2_shape && detail::winograd_s2_pays(s) ? ConvAlgorithm::winograd_2x2 : ConvAlgorithm::gemm;
  }
  if (algorithm == ConvAlgorithm::winograd_4x4 && !winograd_shape)
    throw Error(ErrorKind::invalid_argument, "ConvKernel: Winograd F(4x4) needs a 3x3 stride-1 convolution");
  if (algorithm == ConvAlgorithm::winograd_2x2 && !winograd_shape && !winograd_s2_shape)
    throw Error(ErrorKind::invalid_argument, "ConvKernel: Winograd F(2x2) needs a 3x3 stride-1 or stride-2 convolution");
  if (algorithm == ConvAlgorithm::gemm) {
    path_ = s.kernel == 1 && s.pad == 0 ? (s.stride == 1 ? Path::pointwise : Path::pointwise_strided)
                                        : Path::patch;
    const detail::Index depth = detail::Index(s.kernel) * s.kernel * s.in_c;
    kc_ = choose_kc(s, depth);
    lhs_ = detail::PackedLhs(weight_ohwi.data(), s.out_c, depth, depth, kc_, kMc);
  } else {
    path_ = Path::winograd;
    winograd_ = detail::WinogradConv(s, weight_ohwi.data(),
                                     algorithm == ConvAlgorithm::winograd_4x4 ? 4 : 2);
  }
}

RESNET_SEPARATE_INLINE ConvKernel::ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi,
                                                std::vector<float> bias, Precision precision, LowpLayers layers) {
  if (precision == Precision::int8)
    throw Error(ErrorKind::invalid_argument,
                "ConvKernel: precision int8 needs the input's quantization (the constructor taking QuantParams)");
  if (precision == Precision::bf16) require_precision(Precision::bf16);
  if (precision != Precision::bf16 || !runs_bf16(s, layers)) {
    *this = ConvKernel(s, std::move(weight_ohwi), std::move(bias));
    bf16_model_winograd_ = precision == Precision::bf16 && path_ == Path::winograd;
    return;
  }
  const detail::Index depth = start_lowp(s, weight_ohwi.size(), std::move(bias));
  bf16_ = PackedBf16Weights(weight_ohwi.data(), s.out_c, depth, depth);
  precision_ = Precision::bf16;
}

RESNET_SEPARATE_INLINE ConvKernel::ConvKernel(const ConvShape& s, std::vector<float> weight_ohwi,
                                                std::vector<float> bias, QuantParams input) {
  require_precision(Precision::int8);
  check_u8_params(input, "ConvKernel: int8 input");
  if (s.groups != 1) {
    *this = ConvKernel(s, std::move(weight_ohwi), std::move(bias));
    return;
  }
  const detail::Index depth = start_lowp(s, weight_ohwi.size(), std::move(bias));
  int8_ = PackedInt8Weights::quantize(weight_ohwi.data(), s.out_c, depth, depth);
  int8_input_ = input;
  precision_ = Precision::int8;
}

RESNET_SEPARATE_INLINE void ConvKernel::run(const float* in, int n, int h, int w, float* out, const float* residual,
                                              bool relu, float* scratch, ThreadPool& pool) const {
  const ConvShape& s = shape_;
  if (s.out_c == 0) throw Error(ErrorKind::invalid_argument, "ConvKernel::run: kernel was default-constructed");
  check_input(n, h, w, "run");
  const detail::OutputEpilogue e{bias(), residual, relu};
  if (path_ == Path::winograd) {
    winograd_.run(detail::WinogradInput{in, nullptr}, n, h, w, out, e, scratch, pool);
    return;
  }
  if (path_ == Path::grouped_direct) {
    grouped_.run(in, n, h, w, out, e, pool);
    return;
  }
  if (path_ == Path::per_group) {
    run_per_group(in, n, h, w, out, e, scratch, pool);
    return;
  }
  const detail::Index oh = s.out_side(h), ow = s.out_side(w);
  if (precision_ == Precision::int8) {
    run_int8_gemm(in, n, h, w, oh, ow, out, e, {}, scratch, pool);
    return;
  }
  if (precision_ == Precision::bf16) {
    run_bf16_conv(in, n, h, w, oh, ow, out, e, {}, scratch, pool);
    return;
  }
  switch (path_) {
    case Path::pointwise: run_gemm(detail::DenseColumns{in, s.in_c}, n * oh * ow, out, e, scratch, pool); break;
    case Path::pointwise_strided:
      run_gemm(detail::StridedColumns{in, h, w, s.in_c, oh, ow, s.stride}, n * oh * ow, out, e, scratch, pool);
      break;
    default:
      run_gemm(detail::PatchColumns{in, h, w, s.in_c, s.kernel, s.stride, s.pad, oh, ow}, n * oh * ow, out, e, scratch,
               pool);
      break;
  }
}

RESNET_SEPARATE_INLINE void ConvKernel::run_int8(const float* in, int n, int h, int w, float* out,
                                                   const float* residual, bool relu, const U8Maps& u8, float* scratch,
                                                   ThreadPool& pool) const {
  if (precision_ != Precision::int8)
    throw Error(ErrorKind::invalid_argument, "ConvKernel::run_int8: this conv computes in " +
                                                 std::string(to_string(precision_)) + ", not int8");
  if (u8.out) check_u8_params(u8.out_q, "ConvKernel::run_int8: u8 output");
  if (u8.residual) check_u8_params(u8.residual_q, "ConvKernel::run_int8: u8 residual");
  if ((u8.residual != nullptr) + (u8.residual_bf16 != nullptr) + (residual != nullptr) > 1)
    throw Error(ErrorKind::invalid_argument, "ConvKernel::run_int8: more than one residual (fp32, u8, bf16)");
  check_input(n, h, w, "run_int8");
  const ConvShape& s = shape_;
  run_int8_gemm(in, n, h, w, s.out_side(h), s.out_side(w), out, {bias(), residual, relu}, u8, scratch, pool);
}

RESNET_SEPARATE_INLINE void ConvKernel::run_bf16_maps(const float* in, int n, int h, int w, float* out,
                                                        const float* residual, bool relu, const Bf16Maps& maps,
                                                        float* scratch, ThreadPool& pool) const {
  if (!takes_bf16())
    throw Error(ErrorKind::invalid_argument, "ConvKernel::run_bf16_maps: bf16 maps for a conv that computes in " +
                                                 std::string(to_string(precision_)) +
                                                 " (only a bf16 model's convs take them)");
  if (maps.residual && residual)
    throw Error(ErrorKind::invalid_argument, "ConvKernel::run_bf16_maps: two residuals (fp32 and bf16)");
  check_input(n, h, w, "run_bf16_maps");
  const ConvShape& s = shape_;
  if (path_ == Path::winograd) {
    detail::OutputEpilogue e{bias(), residual, relu};
    e.residual_bf16 = maps.residual;
    e.out_bf16 = maps.out;
    winograd_.run(detail::WinogradInput{in, maps.in}, n, h, w, out, e, scratch, pool);
    return;
  }
  run_bf16_conv(in, n, h, w, s.out_side(h), s.out_side(w), out, {bias(), residual, relu}, maps, scratch, pool);
}

#endif

}  // namespace resnet::kernels
