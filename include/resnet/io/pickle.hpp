#pragma once
/// A pickle reader that never executes pickle: a stack machine over an allowlist of the
/// opcodes and globals a PyTorch state dict needs (../shared/docs/research/pth_format.md,
/// section c), building plain values symbolically. GLOBAL resolves only the names in
/// `allowed_globals`, REDUCE "calls" only collections.OrderedDict and torch's tensor
/// rebuild functions (by building a dict or a tensor record), and a persistent id is
/// accepted only as torch's storage tuple. Anything else is an error that names the
/// opcode or global and its byte offset in the file.
///
/// Values live in an arena and refer to each other by index, so a pickle that makes a
/// container hold itself (through the memo) costs nothing and leaks nothing. Every count a
/// pickle can drive (values, container items, stack, memo, MARK depth, string length) has
/// a cap, so the work and memory stay linear in the pickle's size.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/byte_source.hpp"
#include "resnet/io/json.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet::io::pickle {

enum class Kind : std::uint8_t { none, boolean, integer, real, string, tuple, list, dict, global, storage, tensor };

inline const char* to_string(Kind kind) noexcept {
  constexpr const char* names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict", "global",
                                   "storage", "tensor"};
  return names[static_cast<int>(kind)];
}

/// What an allowed global stands for.
enum class Callable : std::uint8_t { ordered_dict, rebuild_tensor_v2, rebuild_tensor, rebuild_parameter, storage_type };

struct AllowedGlobal {
  const char* module;
  const char* name;
  Callable callable;
  DType dtype;  ///< storage types only
};

/// The only globals a pickle may name (exact `module`, `name`).
inline constexpr AllowedGlobal allowed_globals[] = {
    {"collections", "OrderedDict", Callable::ordered_dict, DType::F32},
    {"torch._utils", "_rebuild_tensor_v2", Callable::rebuild_tensor_v2, DType::F32},
    {"torch._utils", "_rebuild_tensor", Callable::rebuild_tensor, DType::F32},
    {"torch._utils", "_rebuild_parameter", Callable::rebuild_parameter, DType::F32},
    {"torch", "FloatStorage", Callable::storage_type, DType::F32},
    {"torch", "HalfStorage", Callable::storage_type, DType::F16},
    {"torch", "BFloat16Storage", Callable::storage_type, DType::BF16},
    {"torch", "DoubleStorage", Callable::storage_type, DType::F64},
    {"torch", "LongStorage", Callable::storage_type, DType::I64},
    {"torch", "IntStorage", Callable::storage_type, DType::I32},
    {"torch", "ShortStorage", Callable::storage_type, DType::I16},
    {"torch", "CharStorage", Callable::storage_type, DType::I8},
    {"torch", "ByteStorage", Callable::storage_type, DType::U8},
    {"torch", "BoolStorage", Callable::storage_type, DType::BOOL},
};

struct Node {
  Kind kind = Kind::none;
  bool ordered = false;              ///< dict: made by collections.OrderedDict()
  std::int64_t value = 0;            ///< bool, int; global: index in allowed_globals; storage, tensor: index
  double real = 0;                   ///< float
  std::string text;                  ///< str
  std::vector<std::uint32_t> items;  ///< tuple, list; dict: key, value, key, value, ...
};

/// A storage named by a persistent id: `numel` elements of `dtype` under `key`.
struct StorageRef {
  std::string key;
  DType dtype = DType::F32;
  std::int64_t numel = 0;
};

/// A tensor as torch rebuilds it: a view of a storage (offset and strides in elements).
/// Only the types are checked here; the extent is checked against the storage's real size
/// once that is known.
struct TensorRef {
  std::uint32_t storage = 0;
  std::int64_t offset = 0;
  std::vector<std::int64_t> size, stride;
  std::uint64_t at = 0;  ///< file offset of the REDUCE that built it, for errors
};

/// How a pickle names storages: not at all (sys_info, the legacy key list), torch's zip
/// format (a 5-tuple) or the legacy stream format (a 6-tuple ending in view metadata).
enum class PersistentIds { none, zip, legacy };

struct Limits {
  std::size_t nodes = 1'000'000;  ///< a state dict needs about 20 per tensor
  std::size_t items = 4'000'000;  ///< elements of all containers together
  std::size_t stack = 100'000;    ///< pickle writes SETITEMS in batches of 1000 pairs
  std::size_t memo = 1'000'000;
  std::size_t marks = 64;          ///< open MARKs at once (a state dict needs about 4)
  std::uint64_t string = 1 << 16;  ///< bytes of one string
  std::size_t storages = 1'000'000;
};

class Machine {
 public:
  /// `where` starts every error (e.g. "model.pth: archive/data.pkl").
  Machine(std::string where, PersistentIds ids, Limits limits = {})
      : where_(std::move(where)), ids_(ids), limits_(limits) {}

  /// Runs the pickle at the cursor up to its STOP; returns the root value.
  std::uint32_t run(detail::ByteCursor& in) {
    for (;;) {
      at_ = in.position();
      const std::uint8_t op = in.byte();
      switch (op) {
        case 0x80: {  // PROTO
          const std::uint8_t version = in.byte();
          if (version < 2 || version > 5) fail(ErrorKind::format, "pickle protocol " + std::to_string(version) + " (2 to 5 are read)");
          break;
        }
        case '(':  // MARK
          if (marks_.size() >= limits_.marks)
            fail(ErrorKind::too_large, "MARKs nested deeper than " + std::to_string(limits_.marks));
          marks_.push_back(stack_.size());
          break;
        case '.': {  // STOP
          if (!marks_.empty() || stack_.size() != 1)
            fail(ErrorKind::format, "STOP with " + std::to_string(stack_.size()) + " values and " +
                                        std::to_string(marks_.size()) + " open MARKs on the stack (expected one value)");
          const std::uint32_t root = stack_.back();
          stack_.clear();
          return root;
        }
        case 'N': push(make(Kind::none)); break;
        case 0x88: push(make_int(Kind::boolean, 1)); break;  // NEWTRUE
        case 0x89: push(make_int(Kind::boolean, 0)); break;  // NEWFALSE
        case 'J': {  // BININT
          std::uint8_t b[4];
          in.read(b, 4);
          push(make_int(Kind::integer, static_cast<std::int32_t>(detail::load_le<std::uint32_t>(b))));
          break;
        }
        case 'K': push(make_int(Kind::integer, in.byte())); break;  // BININT1
        case 'M': {                                                 // BININT2
          std::uint8_t b[2];
          in.read(b, 2);
          push(make_int(Kind::integer, detail::load_le<std::uint16_t>(b)));
          break;
        }
        case 0x8a: push(make_int(Kind::integer, read_long1(in))); break;  // LONG1
        case 'G': {                                                      // BINFLOAT: big-endian
          std::uint8_t b[8];
          in.read(b, 8);
          std::uint64_t bits = 0;
          for (std::uint8_t x : b) bits = (bits << 8) | x;
          const std::uint32_t n = make(Kind::real);
          std::memcpy(&nodes_[n].real, &bits, 8);
          push(n);
          break;
        }
        case 'X': {  // BINUNICODE
          std::uint8_t b[4];
          in.read(b, 4);
          push(make_string(in, detail::load_le<std::uint32_t>(b)));
          break;
        }
        case 'U': push(make_string(in, in.byte())); break;  // SHORT_BINSTRING
        case ')': push(make(Kind::tuple)); break;           // EMPTY_TUPLE
        case ']': push(make(Kind::list)); break;            // EMPTY_LIST
        case '}': push(make(Kind::dict)); break;            // EMPTY_DICT
        case 't': push(make_container(Kind::tuple, pop_mark())); break;  // TUPLE
        case 0x85:                                                       // TUPLE1..3
        case 0x86:
        case 0x87: {
          const std::size_t n = op - 0x84u;
          if (available() < n) underflow(op);
          std::vector<std::uint32_t> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(make_container(Kind::tuple, std::move(items)));
          break;
        }
        case 'a': {  // APPEND
          const std::uint32_t v = pop(op);
          add_items(top(op), Kind::list, {v}, op);
          break;
        }
        case 'e': {  // APPENDS
          std::vector<std::uint32_t> items = pop_mark();
          add_items(top(op), Kind::list, items, op);
          break;
        }
        case 's': {  // SETITEM
          const std::uint32_t v = pop(op);
          const std::uint32_t k = pop(op);
          add_items(top(op), Kind::dict, {k, v}, op);
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<std::uint32_t> items = pop_mark();
          if (items.size() % 2) fail(ErrorKind::format, "SETITEMS with an odd number of values");
          add_items(top(op), Kind::dict, items, op);
          break;
        }
        case 'q': memo_put(in.byte(), op); break;  // BINPUT
        case 'r': {                                 // LONG_BINPUT
          std::uint8_t b[4];
          in.read(b, 4);
          memo_put(detail::load_le<std::uint32_t>(b), op);
          break;
        }
        case 'h': memo_get(in.byte()); break;  // BINGET
        case 'j': {                             // LONG_BINGET
          std::uint8_t b[4];
          in.read(b, 4);
          memo_get(detail::load_le<std::uint32_t>(b));
          break;
        }
        case 'c': global(in); break;
        case 'R': reduce(); break;
        case 'b': {  // BUILD: only an OrderedDict's attributes (a state dict's _metadata), ignored
          pop(op);
          const Node& target = nodes_[top(op)];
          if (target.kind != Kind::dict || !target.ordered)
            fail(ErrorKind::format, std::string("BUILD on a ") + to_string(target.kind) +
                                        " (allowed only on collections.OrderedDict)");
          break;
        }
        case 'Q': push(persistent(pop(op))); break;  // BINPERSID
        default: fail(ErrorKind::format, "opcode " + opcode_name(op) + " is not allowed in a state dict");
      }
    }
  }

  const Node& node(std::uint32_t index) const { return nodes_[index]; }
  const std::vector<StorageRef>& storages() const noexcept { return storages_; }
  const std::vector<TensorRef>& tensors() const noexcept { return tensors_; }
  const std::string& where() const noexcept { return where_; }

  /// The value under the string key `key` of dict `d` (the last one set), or nullptr.
  const Node* get(const Node& d, std::string_view key) const {
    const Node* found = nullptr;
    for (std::size_t i = 0; i + 1 < d.items.size(); i += 2) {
      const Node& k = nodes_[d.items[i]];
      if (k.kind == Kind::string && k.text == key) found = &nodes_[d.items[i + 1]];
    }
    return found;
  }

 private:
  [[noreturn]] void fail(ErrorKind kind, const std::string& what) const {
    throw Error(kind, where_ + ": byte " + std::to_string(at_) + ": " + what);
  }

  static std::string opcode_name(std::uint8_t op) {
    static const char hex[] = "0123456789abcdef";
    std::string s = "0x";
    s += hex[op >> 4];
    s += hex[op & 15];
    if (op >= 0x20 && op < 0x7f) s += std::string(" '") + static_cast<char>(op) + "'";
    return s;
  }

  std::uint32_t make(Kind kind) {
    if (nodes_.size() >= limits_.nodes)
      fail(ErrorKind::too_large, "more than " + std::to_string(limits_.nodes) + " values");
    nodes_.emplace_back();
    nodes_.back().kind = kind;
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }
  std::uint32_t make_int(Kind kind, std::int64_t v) {
    const std::uint32_t n = make(kind);
    nodes_[n].value = v;
    return n;
  }
  std::uint32_t make_container(Kind kind, std::vector<std::uint32_t> items) {
    count_items(items.size());
    const std::uint32_t n = make(kind);
    nodes_[n].items = std::move(items);
    return n;
  }
  void count_items(std::size_t n) {
    items_ += n;
    if (items_ > limits_.items)
      fail(ErrorKind::too_large, "containers hold more than " + std::to_string(limits_.items) + " values");
  }
  std::uint32_t make_string(detail::ByteCursor& in, std::uint64_t length) {
    if (length > limits_.string)
      fail(ErrorKind::too_large, "string of " + std::to_string(length) + " bytes (at most " +
                                     std::to_string(limits_.string) + ")");
    if (length > in.remaining())
      fail(ErrorKind::format, "string of " + std::to_string(length) + " bytes runs past the end (truncated?)");
    std::string text(static_cast<std::size_t>(length), '\0');
    in.read(text.data(), length);
    if (!detail::is_valid_utf8(text)) fail(ErrorKind::format, "string is not valid UTF-8");
    const std::uint32_t n = make(Kind::string);
    nodes_[n].text = std::move(text);
    return n;
  }
  std::int64_t read_long1(detail::ByteCursor& in) {
    const std::uint8_t n = in.byte();
    if (n > 8) fail(ErrorKind::too_large, "LONG1 of " + std::to_string(n) + " bytes (at most 8)");
    std::uint8_t b[8] = {};
    in.read(b, n);
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    std::int64_t s;
    std::memcpy(&s, &v, 8);
    return s;
  }

  // ---- the stack: values above the innermost MARK are available ----
  std::size_t available() const noexcept { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  [[noreturn]] void underflow(std::uint8_t op) const {
    fail(ErrorKind::format, "stack underflow at opcode " + opcode_name(op));
  }
  void push(std::uint32_t n) {
    if (stack_.size() >= limits_.stack)
      fail(ErrorKind::too_large, "stack deeper than " + std::to_string(limits_.stack));
    stack_.push_back(n);
  }
  std::uint32_t pop(std::uint8_t op) {
    if (available() == 0) underflow(op);
    const std::uint32_t n = stack_.back();
    stack_.pop_back();
    return n;
  }
  std::uint32_t top(std::uint8_t op) const {
    if (available() == 0) underflow(op);
    return stack_.back();
  }
  std::vector<std::uint32_t> pop_mark() {
    if (marks_.empty()) fail(ErrorKind::format, "no MARK to pop to");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<std::uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void add_items(std::uint32_t target, Kind kind, const std::vector<std::uint32_t>& items, std::uint8_t op) {
    Node& t = nodes_[target];
    if (t.kind != kind)
      fail(ErrorKind::format, "opcode " + opcode_name(op) + " on a " + to_string(t.kind) + " (allowed only on a " +
                                  to_string(kind) + ")");
    count_items(items.size());
    t.items.insert(t.items.end(), items.begin(), items.end());
  }

  void memo_put(std::uint32_t key, std::uint8_t op) {
    const std::uint32_t value = top(op);
    if (memo_.size() >= limits_.memo && !memo_.count(key))
      fail(ErrorKind::too_large, "memo of more than " + std::to_string(limits_.memo) + " entries");
    memo_[key] = value;
  }
  void memo_get(std::uint32_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(ErrorKind::format, "memo key " + std::to_string(key) + " read before it was stored");
    push(it->second);
  }

  std::string line(detail::ByteCursor& in) {
    std::string s;
    for (;;) {
      const char c = static_cast<char>(in.byte());
      if (c == '\n') return s;
      if (s.size() >= 256 || c < 0x20 || c > 0x7e) fail(ErrorKind::format, "GLOBAL name is not a short printable line");
      s += c;
    }
  }
  void global(detail::ByteCursor& in) {
    const std::string module = line(in);
    const std::string name = line(in);
    for (std::size_t i = 0; i < std::size(allowed_globals); ++i)
      if (module == allowed_globals[i].module && name == allowed_globals[i].name) {
        push(make_int(Kind::global, static_cast<std::int64_t>(i)));
        return;
      }
    fail(ErrorKind::format, "GLOBAL " + module + "." + name +
                                " is not allowed (a state dict needs only collections.OrderedDict, "
                                "torch._utils._rebuild_tensor_v2 and the torch.*Storage types)");
  }
  static std::string global_name(const AllowedGlobal& g) { return std::string(g.module) + "." + g.name; }

  const Node& arg(const Node& args, std::size_t i, Kind kind, const char* what) const {
    const Node& n = nodes_[args.items[i]];
    if (n.kind != kind)
      fail(ErrorKind::format, std::string(what) + " must be a " + to_string(kind) + ", found a " + to_string(n.kind));
    return n;
  }
  std::vector<std::int64_t> int_tuple(const Node& args, std::size_t i, const char* what) const {
    const Node& t = arg(args, i, Kind::tuple, what);
    if (t.items.size() > 64) fail(ErrorKind::too_large, std::string(what) + " has more than 64 dimensions");
    std::vector<std::int64_t> out;
    for (std::uint32_t e : t.items) {
      const Node& v = nodes_[e];
      if (v.kind != Kind::integer) fail(ErrorKind::format, std::string(what) + " holds a " + to_string(v.kind));
      if (v.value < 0) fail(ErrorKind::format, std::string(what) + " holds the negative value " + std::to_string(v.value));
      out.push_back(v.value);
    }
    return out;
  }

  void reduce() {
    const std::uint32_t args_index = pop('R');
    const Node& fn = nodes_[pop('R')];
    const Node& args = nodes_[args_index];
    if (fn.kind != Kind::global) fail(ErrorKind::format, std::string("REDUCE calls a ") + to_string(fn.kind));
    const AllowedGlobal& g = allowed_globals[fn.value];
    if (args.kind != Kind::tuple) fail(ErrorKind::format, "REDUCE of " + global_name(g) + " with arguments that are not a tuple");
    const std::size_t n = args.items.size();
    switch (g.callable) {
      case Callable::ordered_dict: {
        if (n != 0) fail(ErrorKind::format, "collections.OrderedDict with arguments (only OrderedDict() is read)");
        const std::uint32_t d = make(Kind::dict);
        nodes_[d].ordered = true;
        push(d);
        return;
      }
      case Callable::rebuild_parameter: {  // (data, requires_grad, backward_hooks): the data
        if (n != 3) fail(ErrorKind::format, "torch._utils._rebuild_parameter takes 3 arguments, got " + std::to_string(n));
        arg(args, 0, Kind::tensor, "_rebuild_parameter's data");
        push(args.items[0]);
        return;
      }
      case Callable::rebuild_tensor:
      case Callable::rebuild_tensor_v2: {
        // v2: (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]);
        // the pre-0.4 form has only the first four.
        const bool v2 = g.callable == Callable::rebuild_tensor_v2;
        if (v2 ? (n != 6 && n != 7) : n != 4)
          fail(ErrorKind::format, global_name(g) + " takes " + (v2 ? "6 or 7" : "4") + " arguments, got " + std::to_string(n));
        TensorRef t;
        t.storage = static_cast<std::uint32_t>(arg(args, 0, Kind::storage, "the tensor's storage").value);
        t.offset = arg(args, 1, Kind::integer, "the storage offset").value;
        if (t.offset < 0) fail(ErrorKind::format, "negative storage offset " + std::to_string(t.offset));
        t.size = int_tuple(args, 2, "the tensor's size");
        t.stride = int_tuple(args, 3, "the tensor's stride");
        if (t.size.size() != t.stride.size())
          fail(ErrorKind::format, "the tensor has " + std::to_string(t.size.size()) + " sizes but " +
                                      std::to_string(t.stride.size()) + " strides");
        if (v2) arg(args, 4, Kind::boolean, "requires_grad");
        t.at = at_;
        tensors_.push_back(std::move(t));
        push(make_int(Kind::tensor, static_cast<std::int64_t>(tensors_.size() - 1)));
        return;
      }
      case Callable::storage_type: break;
    }
    fail(ErrorKind::format, "REDUCE of " + global_name(g) + " (a storage type appears only in a persistent id)");
  }

  // torch's storage tuple: ('storage', <torch.*Storage>, key, location, numel[, view_metadata]).
  std::uint32_t persistent(std::uint32_t pid_index) {
    if (ids_ == PersistentIds::none) fail(ErrorKind::format, "a persistent id where none is expected");
    const Node& pid = nodes_[pid_index];
    const std::size_t expected = ids_ == PersistentIds::zip ? 5 : 6;
    if (pid.kind != Kind::tuple || pid.items.size() != expected || nodes_[pid.items[0]].kind != Kind::string ||
        nodes_[pid.items[0]].text != "storage")
      fail(ErrorKind::format, "persistent id is not a ('storage', type, key, location, numel" +
                                  std::string(expected == 6 ? ", view_metadata" : "") + ") tuple");
    const Node& type = arg(pid, 1, Kind::global, "the storage type");
    const AllowedGlobal& g = allowed_globals[type.value];
    if (g.callable != Callable::storage_type)
      fail(ErrorKind::format, "persistent id names " + global_name(g) + ", not a storage type");
    const std::string& key = arg(pid, 2, Kind::string, "the storage key").text;
    arg(pid, 3, Kind::string, "the storage location");
    const std::int64_t numel = arg(pid, 4, Kind::integer, "the storage size").value;
    if (numel < 0) fail(ErrorKind::format, "storage '" + key + "' has negative size " + std::to_string(numel));
    if (expected == 6 && nodes_[pid.items[5]].kind != Kind::none)
      fail(ErrorKind::format, "storage '" + key + "' is a view of another storage (legacy view metadata is not read)");
    std::uint32_t index = 0;
    const auto it = storage_index_.find(key);
    if (it != storage_index_.end()) {
      index = it->second;
      const StorageRef& s = storages_[index];
      if (s.dtype != g.dtype || s.numel != numel)
        fail(ErrorKind::format, "storage '" + key + "' named twice with different types or sizes");
    } else {
      if (storages_.size() >= limits_.storages)
        fail(ErrorKind::too_large, "more than " + std::to_string(limits_.storages) + " storages");
      index = static_cast<std::uint32_t>(storages_.size());
      storages_.push_back({key, g.dtype, numel});
      storage_index_.emplace(key, index);
    }
    return make_int(Kind::storage, index);
  }

  std::string where_;
  PersistentIds ids_;
  Limits limits_;
  std::uint64_t at_ = 0;
  std::vector<Node> nodes_;
  std::size_t items_ = 0;
  std::vector<std::uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, std::uint32_t> memo_;
  std::vector<StorageRef> storages_;
  std::unordered_map<std::string, std::uint32_t> storage_index_;
  std::vector<TensorRef> tensors_;
};

}  // namespace resnet::io::pickle
