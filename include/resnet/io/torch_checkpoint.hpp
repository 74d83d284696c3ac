#pragma once
/// PyTorch checkpoints (torch.save of a state dict: .pth, .pt, .th) read without Python
/// and without executing pickle (../shared/docs/research/pth_format.md).
///
/// Two formats, recognised by their bytes, not by the file name:
///   zip     PyTorch >= 1.6: `<folder>/data.pkl` and one stored entry `<folder>/data/<key>`
///           per storage (io/zip.hpp checks the archive);
///   legacy  the stream of PyTorch 0.4 to 1.5 (or _use_new_zipfile_serialization=False):
///           magic number, protocol version and sys_info pickles, the state-dict pickle,
///           the list of storage keys, then each storage as an int64 count and its bytes.
/// The old tar format (PyTorch <= 0.3), TorchScript archives (which hold code), HDF5 and
/// bare pickles are refused with an error that names the format.
///
/// The pickles run on pickle::Machine (io/pickle.hpp), which builds values symbolically.
/// The state dict is the top-level dict or one nested under `state_dict` / `model`;
/// entries that are not tensors (`best_prec1`, `epoch`) are ignored. Every tensor's view
/// (offset, sizes, strides; strided views are gathered) is checked against its storage,
/// and every storage against the bytes the file really has for it. Only the pickles and
/// the zip directory are held in memory: read_f32 reads each tensor's bytes from the file
/// when asked. Big-endian checkpoints are refused.
///
/// Errors are resnet::Error whose message starts with the file name: io (unreadable),
/// format (anything malformed, disallowed or truncated), too_large (a count or size over a
/// cap or past 64 bits), unsupported_dtype (read_f32 of an integer tensor).

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/core/separate.hpp"
#include "resnet/io/byte_source.hpp"
#include "resnet/io/pickle.hpp"
#include "resnet/io/safetensors.hpp"
#include "resnet/io/zip.hpp"

namespace resnet::io {

/// What a weight file's first bytes say it is.
enum class WeightFormat { safetensors, torch_zip, torch_legacy, torch_tar, hdf5, pickle, unknown };

namespace detail {

// torch's legacy stream starts with its magic number pickled (LONG1 of 10 bytes) ...
inline constexpr std::uint8_t torch_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                               0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
// ... then protocol version 1001 pickled.
inline constexpr std::uint8_t torch_protocol[] = {0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};

inline bool starts_with(const std::uint8_t* p, std::size_t n, const void* prefix, std::size_t m) noexcept {
  return n >= m && std::memcmp(p, prefix, m) == 0;
}

}  // namespace detail

/// The format of a file whose first `n` bytes (512 suffice) are `head`.
inline WeightFormat detect_format(const std::uint8_t* head, std::size_t n) noexcept {
  using detail::starts_with;
  if (starts_with(head, n, "PK\x03\x04", 4) || starts_with(head, n, "PK\x05\x06", 4)) return WeightFormat::torch_zip;
  if (starts_with(head, n, detail::torch_magic, sizeof detail::torch_magic)) return WeightFormat::torch_legacy;
  if (n >= 262 && std::memcmp(head + 257, "ustar", 5) == 0) return WeightFormat::torch_tar;
  if (starts_with(head, n, "\x89HDF\r\n\x1a\n", 8)) return WeightFormat::hdf5;
  if (n >= 9 && head[8] == '{') return WeightFormat::safetensors;  // u64 header length, then JSON
  if (n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5) return WeightFormat::pickle;
  return WeightFormat::unknown;
}

/// The format of the file at `path` by its first bytes (ErrorKind::io if unreadable).
inline WeightFormat detect_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::io, path + ": cannot open file for reading");
  std::uint8_t head[512];
  in.read(reinterpret_cast<char*>(head), sizeof head);
  return detect_format(head, static_cast<std::size_t>(in.gcount()));
}

/// Whether TorchCheckpoint (rather than SafeTensors) should read a file of this format:
/// it reads the torch formats and names the others it recognises when refusing them.
inline bool read_as_torch(WeightFormat f) noexcept {
  return f != WeightFormat::safetensors && f != WeightFormat::unknown;
}

/// One tensor of a checkpoint: a view of `storage` in elements.
struct TorchTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  ///< empty = scalar
  std::vector<std::int64_t> strides;
  std::int64_t offset = 0;
  std::size_t storage = 0;
  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;  // checked when the checkpoint was opened
    return n;
  }
};

class TorchCheckpoint {
 public:
  /// Largest pickle read (torchvision's ResNet-152 has 60 KB).
  static constexpr std::uint64_t max_pickle = 64ull << 20;

  /// Opens and validates the checkpoint at `path`; tensor data stays in the file.
  static TorchCheckpoint open(const std::string& path) { return TorchCheckpoint(detail::ByteSource::file(path)); }
  /// Validates `bytes` as a checkpoint; `name` stands for the file in errors.
  static TorchCheckpoint from_memory(std::vector<std::uint8_t> bytes, std::string name = "<memory>") {
    return TorchCheckpoint(detail::ByteSource::memory(std::move(bytes), std::move(name)));
  }

  const std::string& name() const noexcept { return source_.name(); }
  /// "zip" or "legacy".
  const char* format() const noexcept { return zip_ ? "zip" : "legacy"; }
  /// The state dict's tensors in the pickle's order.
  const std::vector<TorchTensor>& tensors() const noexcept { return tensors_; }
  const TorchTensor* find(const std::string& tensor_name) const {
    const auto it = index_.find(tensor_name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

  /// Values as float, row-major: F32 as is, F16 / BF16 / F64 converted as SafeTensors
  /// converts them. Integer and bool tensors -> ErrorKind::unsupported_dtype.
  std::vector<float> read_f32(const TorchTensor& t) const;

 private:
  struct Storage {
    std::string key;
    DType dtype = DType::F32;
    std::int64_t numel = 0;
    std::uint64_t begin = 0;  ///< file offset of element 0
  };

  explicit TorchCheckpoint(detail::ByteSource source);

  [[noreturn]] void fail(ErrorKind kind, const std::string& what) const { throw Error(kind, name() + ": " + what); }
  static std::string quoted(const std::string& s) { return detail::JsonReader::quoted(s); }

  // ---- zip ----

  void load_zip() {
    zip_ = true;
    const detail::ZipArchive zip(source_);
    const auto& entries = zip.entries();
    if (entries.empty()) fail(ErrorKind::format, "empty zip archive");
    // Every entry lies in one folder, named after entry 0's (torch: the saved file's name).
    const std::string& first = entries.front().name;
    const std::size_t slash = first.find('/');
    if (slash == std::string::npos) fail(ErrorKind::format, "zip entry " + quoted(first) + " is not inside an archive folder");
    const std::string folder = first.substr(0, slash + 1);
    for (const auto& e : entries) {
      if (e.name.compare(0, folder.size(), folder) != 0)
        fail(ErrorKind::format, "zip entry " + quoted(e.name) + " lies outside the archive folder " + quoted(folder));
      const std::string rest = e.name.substr(folder.size());
      if (rest == "constants.pkl" || rest.compare(0, 5, "code/") == 0 ||
          (rest.size() >= 10 && rest.compare(rest.size() - 10, 10, ".debug_pkl") == 0))
        fail(ErrorKind::format, "a TorchScript archive (torch.jit.save: it holds code, which is never run here); "
                                "save the model's state_dict() with torch.save instead");
    }
    if (const detail::ZipEntry* order = zip.find(folder + "byteorder")) {
      const std::vector<std::uint8_t> bytes = zip.read(*order, 16);
      const std::string value(bytes.begin(), bytes.end());
      if (value == "big") fail(ErrorKind::format, "big-endian checkpoint (byteorder 'big'), which is not read");
      if (value != "little") fail(ErrorKind::format, "byteorder record holds neither 'little' nor 'big'");
    }
    const detail::ZipEntry* data = zip.find(folder + "data.pkl");
    if (!data) fail(ErrorKind::format, "zip archive without " + folder + "data.pkl: not a torch.save checkpoint");
    const detail::ByteSource pickle_bytes =
        detail::ByteSource::memory(zip.read(*data, max_pickle), name() + ": " + data->name);
    detail::ByteCursor in(pickle_bytes, 0, pickle_bytes.size(), "pickle");
    pickle::Machine vm(pickle_bytes.name(), pickle::PersistentIds::zip);
    const std::uint32_t root = vm.run(in);
    if (in.remaining()) fail(ErrorKind::format, data->name + " has " + std::to_string(in.remaining()) + " bytes after STOP");

    // Each storage is the entry data/<key>, and its size is what the pickle says.
    for (const pickle::StorageRef& ref : vm.storages()) {
      const detail::ZipEntry* e = zip.find(folder + "data/" + ref.key);
      if (!e) fail(ErrorKind::format, "storage " + quoted(ref.key) + " has no entry " + quoted(folder + "data/" + ref.key));
      const std::uint64_t bytes = storage_bytes(ref);
      if (e->size != bytes)
        fail(ErrorKind::format, "storage " + quoted(ref.key) + ": entry " + e->name + " holds " + std::to_string(e->size) +
                                    " bytes but " + std::to_string(ref.numel) + " " + to_string(ref.dtype) +
                                    " elements need " + std::to_string(bytes));
      storages_.push_back({ref.key, ref.dtype, ref.numel, e->offset});
    }
    collect(vm, root);
  }

  std::uint64_t storage_bytes(const pickle::StorageRef& ref) const {
    std::uint64_t bytes = 0;
    if (!detail::checked_mul(static_cast<std::uint64_t>(ref.numel), dtype_bits(ref.dtype) / 8, bytes))
      fail(ErrorKind::too_large, "storage " + quoted(ref.key) + " of " + std::to_string(ref.numel) + " elements overflows 64 bits");
    return bytes;
  }

  // ---- legacy stream ----

  std::uint32_t run_pickle(pickle::Machine& vm, std::uint64_t& pos, const std::string& what) const {
    detail::ByteCursor in(source_, pos, max_pickle, what);
    const std::uint32_t root = vm.run(in);
    pos = in.position();
    return root;
  }

  void load_legacy() {
    std::uint64_t pos = sizeof detail::torch_magic;
    std::uint8_t protocol[sizeof detail::torch_protocol];
    source_.read(pos, sizeof protocol, protocol, "protocol version");
    if (std::memcmp(protocol, detail::torch_protocol, sizeof protocol) != 0)
      fail(ErrorKind::format, "legacy checkpoint whose protocol version is not 1001");
    pos += sizeof protocol;

    pickle::Machine info(name() + ": sys_info", pickle::PersistentIds::none);
    const pickle::Node& sys = info.node(run_pickle(info, pos, "sys_info"));
    const pickle::Node* little = sys.kind == pickle::Kind::dict ? info.get(sys, "little_endian") : nullptr;
    if (!little || little->kind != pickle::Kind::boolean) fail(ErrorKind::format, "sys_info is not a dict with little_endian");
    if (!little->value) fail(ErrorKind::format, "big-endian checkpoint (sys_info little_endian False), which is not read");

    pickle::Machine vm(name() + ": state dict", pickle::PersistentIds::legacy);
    const std::uint32_t root = run_pickle(vm, pos, "state dict pickle");

    pickle::Machine key_list(name() + ": storage keys", pickle::PersistentIds::none);
    const pickle::Node& keys = key_list.node(run_pickle(key_list, pos, "storage key list"));
    if (keys.kind != pickle::Kind::list) fail(ErrorKind::format, "the storage key list is not a list");
    std::unordered_map<std::string, std::size_t> by_key;
    for (std::size_t i = 0; i < vm.storages().size(); ++i) by_key.emplace(vm.storages()[i].key, i);
    // Storages follow in the list's order: an int64 element count, then the bytes.
    std::vector<std::uint64_t> begin(vm.storages().size(), 0);
    std::vector<bool> seen(vm.storages().size(), false);
    for (std::uint32_t k : keys.items) {
      const pickle::Node& key = key_list.node(k);
      if (key.kind != pickle::Kind::string) fail(ErrorKind::format, "the storage key list holds a non-string");
      const auto it = by_key.find(key.text);
      if (it == by_key.end()) fail(ErrorKind::format, "storage key list names " + quoted(key.text) + ", which no tensor uses");
      if (seen[it->second]) fail(ErrorKind::format, "storage key list names " + quoted(key.text) + " twice");
      seen[it->second] = true;
      const pickle::StorageRef& ref = vm.storages()[it->second];
      std::uint8_t count[8];
      source_.read(pos, 8, count, "element count of storage " + quoted(ref.key));
      const std::uint64_t numel = detail::load_le<std::uint64_t>(count);
      if (numel != static_cast<std::uint64_t>(ref.numel))
        fail(ErrorKind::format, "storage " + quoted(ref.key) + " at byte " + std::to_string(pos) + " has " +
                                    std::to_string(numel) + " elements, the pickle says " + std::to_string(ref.numel));
      const std::uint64_t bytes = storage_bytes(ref);
      if (!source_.holds(pos + 8, bytes))
        fail(ErrorKind::format, "storage " + quoted(ref.key) + " (" + std::to_string(bytes) + " bytes at byte " +
                                    std::to_string(pos + 8) + ") runs past the end of the file (truncated?)");
      begin[it->second] = pos + 8;
      pos += 8 + bytes;
    }
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (!seen[i]) fail(ErrorKind::format, "storage " + quoted(vm.storages()[i].key) + " is missing from the storage key list");
    if (pos != source_.size())
      fail(ErrorKind::format, std::to_string(source_.size() - pos) + " bytes after the last storage");
    for (std::size_t i = 0; i < vm.storages().size(); ++i) {
      const pickle::StorageRef& ref = vm.storages()[i];
      storages_.push_back({ref.key, ref.dtype, ref.numel, begin[i]});
    }
    collect(vm, root);
  }

  // ---- the state dict ----

  void collect(const pickle::Machine& vm, std::uint32_t root) {
    const pickle::Node* dict = &vm.node(root);
    if (dict->kind != pickle::Kind::dict)
      fail(ErrorKind::format, std::string("the checkpoint holds a ") + to_string(dict->kind) + ", not a state dict");
    auto holds_tensors = [&](const pickle::Node& d) {
      for (std::size_t i = 1; i < d.items.size(); i += 2)
        if (vm.node(d.items[i]).kind == pickle::Kind::tensor) return true;
      return false;
    };
    // Training checkpoints nest the state dict: {'state_dict': ..., 'epoch': ...}.
    for (int depth = 0; depth < 4 && !holds_tensors(*dict); ++depth) {
      const pickle::Node* inner = vm.get(*dict, "state_dict");
      if (!inner || inner->kind != pickle::Kind::dict) inner = vm.get(*dict, "model");
      if (!inner || inner->kind != pickle::Kind::dict) break;
      dict = inner;
    }
    for (std::size_t i = 0; i + 1 < dict->items.size(); i += 2) {
      const pickle::Node& value = vm.node(dict->items[i + 1]);
      if (value.kind != pickle::Kind::tensor) continue;  // best_prec1, epoch, _metadata, ...
      const pickle::Node& key = vm.node(dict->items[i]);
      if (key.kind != pickle::Kind::string) fail(ErrorKind::format, "a tensor under a key that is not a string");
      add_tensor(key.text, vm.tensors()[static_cast<std::size_t>(value.value)]);
    }
  }

  void add_tensor(const std::string& tensor_name, const pickle::TensorRef& ref) {
    const std::string label = "tensor " + quoted(tensor_name);
    if (!index_.emplace(tensor_name, tensors_.size()).second) fail(ErrorKind::format, label + " appears twice in the state dict");
    const Storage& s = storages_[ref.storage];
    TorchTensor t;
    t.name = tensor_name;
    t.dtype = s.dtype;
    t.shape = ref.size;
    t.strides = ref.stride;
    t.offset = ref.offset;
    t.storage = ref.storage;
    std::uint64_t numel = 1;
    for (std::int64_t d : t.shape)
      if (!detail::checked_mul(numel, static_cast<std::uint64_t>(d), numel) || numel > INT64_MAX)
        fail(ErrorKind::too_large, label + ": size " + detail::shape_string(t.shape) + " has more elements than fit in 64 bits");
    const std::string view = "offset " + std::to_string(t.offset) + ", size " + detail::shape_string(t.shape) +
                             ", stride " + detail::shape_string(t.strides);
    if (numel > static_cast<std::uint64_t>(s.numel))
      fail(ErrorKind::format, label + " (" + view + ") has more elements than its storage " + quoted(s.key) + " (" +
                                  std::to_string(s.numel) + ")");
    if (numel > 0) {
      std::uint64_t last = static_cast<std::uint64_t>(t.offset), step = 0;
      for (std::size_t d = 0; d < t.shape.size(); ++d)
        if (!detail::checked_mul(static_cast<std::uint64_t>(t.shape[d] - 1), static_cast<std::uint64_t>(t.strides[d]), step) ||
            step > UINT64_MAX - last)
          fail(ErrorKind::too_large, label + " (" + view + ") reaches past 64 bits");
        else
          last += step;
      if (last >= static_cast<std::uint64_t>(s.numel))
        fail(ErrorKind::format, label + " (" + view + ") needs element " + std::to_string(last) + " but its storage " +
                                    quoted(s.key) + " holds " + std::to_string(s.numel));
    } else if (t.offset > s.numel) {
      fail(ErrorKind::format, label + ": offset " + std::to_string(t.offset) + " past its storage " + quoted(s.key));
    }
    tensors_.push_back(std::move(t));
  }

  static std::int64_t last_element(const TorchTensor& t) noexcept {
    std::int64_t last = t.offset;
    for (std::size_t d = 0; d < t.shape.size(); ++d) last += (t.shape[d] - 1) * t.strides[d];
    return last;
  }
  static bool is_row_major(const TorchTensor& t) noexcept {
    std::int64_t expected = 1;
    for (std::size_t d = t.shape.size(); d-- > 0;) {
      if (t.shape[d] != 1 && t.strides[d] != expected) return false;
      expected *= t.shape[d];
    }
    return true;
  }

  detail::ByteSource source_;
  bool zip_ = false;
  std::vector<Storage> storages_;
  std::vector<TorchTensor> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
};

// The entry points into the parser: with RESNET_SEPARATE_COMPILATION only declared above,
// and compiled once in src/separate.cpp (core/separate.hpp).
#if RESNET_SEPARATE_DEFINITIONS
RESNET_SEPARATE_INLINE TorchCheckpoint::TorchCheckpoint(detail::ByteSource source) : source_(std::move(source)) {
  std::uint8_t head[512];
  const std::uint64_t n = std::min<std::uint64_t>(source_.size(), sizeof head);
  source_.read(0, n, head, "file header");
  switch (detect_format(head, static_cast<std::size_t>(n))) {
    case WeightFormat::torch_zip: load_zip(); return;
    case WeightFormat::torch_legacy: load_legacy(); return;
    case WeightFormat::torch_tar:
      fail(ErrorKind::format, "a checkpoint in the tar format of PyTorch 0.3 and older, which is not read; "
                              "load it with torch.load and save it again with torch.save");
    case WeightFormat::hdf5:
      fail(ErrorKind::format, "an HDF5 file (Keras .h5?), not a PyTorch checkpoint; convert it with "
                              "tools/convert_keras_h5.py");
    case WeightFormat::safetensors: fail(ErrorKind::format, "a safetensors file, not a PyTorch checkpoint");
    case WeightFormat::pickle:
      fail(ErrorKind::format, "a bare pickle without torch.save's magic number, not a PyTorch checkpoint");
    case WeightFormat::unknown: break;
  }
  fail(ErrorKind::format, "not a PyTorch checkpoint (neither torch.save's zip archive nor its legacy stream)");
}

RESNET_SEPARATE_INLINE std::vector<float> TorchCheckpoint::read_f32(const TorchTensor& t) const {
  if (!detail::is_float_dtype(t.dtype))
    throw Error(ErrorKind::unsupported_dtype, name() + ": tensor " + quoted(t.name) + ": dtype " + to_string(t.dtype) +
                                                  " cannot be read as float (F32, F16, BF16 and F64 can)");
  if (t.storage >= storages_.size() || &t != find(t.name))
    throw Error(ErrorKind::invalid_argument, name() + ": tensor " + quoted(t.name) + " is not of this checkpoint");
  const auto numel = static_cast<std::size_t>(t.numel());
  std::vector<float> out(numel);
  if (numel == 0) return out;
  const Storage& s = storages_[t.storage];
  const std::uint64_t size = dtype_bits(t.dtype) / 8;
  const std::uint64_t span = static_cast<std::uint64_t>(last_element(t) - t.offset) + 1;
  const std::uint64_t begin = s.begin + static_cast<std::uint64_t>(t.offset) * size;
  const std::string what = "tensor " + quoted(t.name);
  const bool row_major = is_row_major(t);
  if (row_major && t.dtype == DType::F32 && detail::host_is_little_endian()) {
    source_.read(begin, numel * 4, out.data(), what);
    return out;
  }
  const std::vector<std::uint8_t> bytes = source_.read(begin, span * size, what);
  if (row_major) {
    detail::decode_f32(t.dtype, bytes.data(), numel, out.data());
    return out;
  }
  std::vector<float> values(static_cast<std::size_t>(span));
  detail::decode_f32(t.dtype, bytes.data(), values.size(), values.data());
  // Walk the view's indices like an odometer, the source index following the strides.
  const std::size_t rank = t.shape.size();
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t from = 0;
  for (std::size_t i = 0; i < numel; ++i) {
    out[i] = values[static_cast<std::size_t>(from)];
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < t.shape[d]) {
        from += t.strides[d];
        break;
      }
      from -= t.strides[d] * (t.shape[d] - 1);
      index[d] = 0;
    }
  }
  return out;
}
#endif

}  // namespace resnet::io
