#pragma once
/// The arithmetic a model computes in, and whether this CPU and build can run it.
///   fp32  always available; the default.
///   bf16  weights and activations rounded to bfloat16, fp32 accumulation (VDPBF16PS).
///   int8  s8 weights per output channel, u8 activations per tensor, int32 accumulation
///         (VPDPBUSD).
/// Every path that runs a reduced-precision kernel calls require_precision() first, so
/// a machine without the instructions gets a resnet::Error, not a SIGILL.

#include <string>
#include <vector>

#include "resnet/core/cpu_features.hpp"
#include "resnet/core/error.hpp"

namespace resnet {

enum class Precision { fp32, bf16, int8 };

/// Which convolutions a reduced-precision model runs in that precision.
///   measured  those the reduced-precision kernel runs faster than fp32: for bf16 every
///             ungrouped conv but the stride-1 3x3s fp32 runs as Winograd F(4x4)
///             (docs/lowp.md), which stay fp32;
///   all       every ungrouped conv (grouped convs stay fp32), for accuracy studies.
enum class LowpLayers { measured, all };

/// The range calibration measured at one conv's input (models/calibration.hpp).
struct ConvInputRange {
  float min = 0.0f, max = 0.0f;  ///< what the int8 conv quantizes to u8 (affine_u8_qparams)
  int channels = 0;              ///< the conv's input channels: a check that the ranges fit the model
};

/// The input ranges of every conv of a model, which an int8 model quantizes its conv inputs
/// by (ModelOptions::int8_ranges), in the order the model builds its convs: the stem, then
/// each block's main path and its projection shortcut, as load_weights() and init_random()
/// visit them. Made by calibrate() (models/calibration.hpp), saved and loaded with
/// save_ranges() / load_ranges().
struct ActivationRanges {
  std::vector<ConvInputRange> convs;
  std::string model;   ///< the model's name where the calibrating code knew it; "" otherwise
  std::string method;  ///< how the ranges were chosen, e.g. "minmax" or "percentile 99.99"
  long long images = 0;
  std::string source;  ///< the file they were loaded from, named in errors; "" otherwise

  /// How errors about these ranges begin.
  std::string label() const { return source.empty() ? "int8 ranges" : source; }
};

/// What a model's convolutions compute in (ModelOptions::precision, lowp_layers and
/// int8_ranges), as the weight loader and the random initialiser hand it to every conv.
struct ConvArithmetic {
  Precision precision = Precision::fp32;
  LowpLayers layers = LowpLayers::measured;
  const ActivationRanges* ranges = nullptr;  ///< int8: the network's; it outlives the loading
  int convs = 0;  ///< convs built so far: the next conv's index into ranges (and the observer's)
};

inline const char* to_string(Precision p) noexcept {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
  }
  return "unknown";
}

/// "fp32", "bf16" or "int8"; anything else is an invalid_argument Error.
inline Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "int8") return Precision::int8;
  throw Error(ErrorKind::invalid_argument, "unknown precision '" + name + "' (expected fp32, bf16 or int8)");
}

/// What stops `p` from running with these CPU and build features, as a sentence naming
/// every missing feature; empty when nothing does. Taking the features as parameters
/// keeps the "CPU lacks it" branches testable on a CPU that has everything.
inline std::string missing_for(Precision p, const CpuFeatures& cpu, const BuildFeatures& build) {
  if (p == Precision::fp32) return {};
  const bool int8 = p == Precision::int8;
  std::string cpu_missing;
  const auto need = [&cpu_missing](bool have, const char* name) {
    if (!have) cpu_missing += std::string(cpu_missing.empty() ? "" : ", ") + name;
  };
  need(cpu.avx512f, "AVX512F");
  need(cpu.avx512bw, "AVX512BW");
  need(cpu.avx512vl, "AVX512VL");
  if (int8) need(cpu.avx512dq, "AVX512DQ");  // the epilogue's VFPCLASSPS
  need(int8 ? cpu.avx512_vnni : cpu.avx512_bf16, int8 ? "AVX512_VNNI" : "AVX512_BF16");
  need(cpu.os_zmm, "OS support for the AVX-512 register state (XCR0)");
  std::string why;
  if (!(int8 ? build.int8_kernels : build.bf16_kernels))
    why = std::string("this build has no ") + to_string(p) + " kernels (they need an x86-64 GCC >= " +
          (int8 ? "8" : "10") + " or Clang >= " + (int8 ? "6" : "9") +
          ", and RESNET_NO_LOWP_KERNELS undefined)";
  if (!cpu_missing.empty())
    why += std::string(why.empty() ? "" : "; ") + "this CPU lacks " + cpu_missing;
  if (why.empty()) return why;
  return std::string("precision ") + to_string(p) + " is not available: " + why + " (fp32 always works)";
}

/// Throws ErrorKind::unsupported_cpu naming what is missing unless `p` can run.
inline void require_precision(Precision p, const CpuFeatures& cpu, const BuildFeatures& build) {
  const std::string why = missing_for(p, cpu, build);
  if (!why.empty()) throw Error(ErrorKind::unsupported_cpu, why);
}

/// The same for this process's CPU and this build.
inline void require_precision(Precision p) { require_precision(p, cpu_features(), build_features()); }

/// Whether `p` can run here.
inline bool precision_available(Precision p) { return missing_for(p, cpu_features(), build_features()).empty(); }

}  // namespace resnet
