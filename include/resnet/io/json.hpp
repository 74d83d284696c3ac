#pragma once
/// A small strict JSON pull reader: just what the safetensors header needs (objects,
/// arrays, strings with every escape, integers), plus enough of the rest of JSON (numbers
/// with fraction or exponent, true, false, null) to recognise such values and name them in
/// an error. It is strict where RFC 8259 is strict (no trailing commas, no leading zeros,
/// no raw control characters in strings, no lone surrogates) and adds what a hostile file
/// needs: a nesting-depth limit, duplicate-key detection inside every object, and a
/// separate check that the whole text is valid UTF-8. Every failure is a
/// resnet::Error(ErrorKind::format) whose message starts with the context given to the
/// reader (usually the file name) and names the byte offset.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "resnet/core/error.hpp"

namespace resnet::io::detail {

/// Offset of the first byte that breaks UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), or `size` when all of it is valid.
inline std::size_t find_invalid_utf8(const std::uint8_t* s, std::size_t size) noexcept {
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;  // continuation byte without a lead, C0/C1 overlong lead, or F5..FF
    }
    if (size - i < len) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += len;
  }
  return size;
}

inline bool is_valid_utf8(std::string_view s) noexcept {
  return find_invalid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()) == s.size();
}

/// Appends `s` to `out` as a JSON string literal (with quotes), escaping what RFC 8259
/// requires and nothing else, the way serde_json and Python's json.dumps(ensure_ascii=False)
/// do, so a header written with it matches the reference writer byte for byte.
inline void append_json_string(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

enum class JsonType { object, array, string, number, boolean, null, end, invalid };

inline const char* to_string(JsonType t) noexcept {
  switch (t) {
    case JsonType::object: return "an object";
    case JsonType::array: return "an array";
    case JsonType::string: return "a string";
    case JsonType::number: return "a number";
    case JsonType::boolean: return "a boolean";
    case JsonType::null: return "null";
    case JsonType::end: return "the end of the text";
    case JsonType::invalid: return "an invalid token";
  }
  return "?";
}

/// One JSON number token. `text` points into the reader's input.
struct JsonNumber {
  std::string_view text;
  bool plain_unsigned = false;  ///< digits only: no sign, fraction or exponent
  bool fits_u64 = false;        ///< plain_unsigned and at most 2^64 - 1
  std::uint64_t value = 0;      ///< valid when fits_u64
};

/// Pull reader over a text that must hold exactly one JSON value. Usage:
///   begin_object(); while (next_member(key)) { ...read the value... }
///   begin_array();  while (next_element())   { ...read the value... }
/// and finish() at the end. next_member() reports duplicate keys itself.
class JsonReader {
 public:
  /// `context` starts every error message (e.g. "w.safetensors: header"); `offset_base`
  /// is added to offsets in messages so they are file offsets.
  JsonReader(std::string_view text, std::string context, std::size_t offset_base = 0,
             std::size_t max_depth = 64)
      : text_(text), context_(std::move(context)), base_(offset_base), max_depth_(max_depth) {}

  /// The type of the next value, judged from its first byte (skips whitespace).
  JsonType peek() {
    skip_ws();
    if (pos_ >= text_.size()) return JsonType::end;
    switch (text_[pos_]) {
      case '{': return JsonType::object;
      case '[': return JsonType::array;
      case '"': return JsonType::string;
      case 't': case 'f': return JsonType::boolean;
      case 'n': return JsonType::null;
      default: {
        const char c = text_[pos_];
        if (c == '-' || (c >= '0' && c <= '9')) return JsonType::number;
        return JsonType::invalid;
      }
    }
  }

  void begin_object() {
    expect('{', "'{'");
    push(true);
  }

  /// Reads the next key and its ':' and returns true, or consumes the closing '}' and
  /// returns false. Throws on a duplicate key within this object.
  bool next_member(std::string& key) {
    Frame& f = top(true);
    skip_ws();
    if (f.first) {
      if (consume('}')) return pop();
    } else {
      if (consume('}')) return pop();
      if (!consume(',')) fail("expected ',' or '}' in object");
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == '}') fail("trailing ',' before '}'");
    }
    f.first = false;
    skip_ws();
    if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a string key");
    const std::size_t key_pos = pos_;
    key = read_string();
    if (!f.keys.insert(key).second) fail_at(key_pos, "duplicate key " + quoted(key));
    skip_ws();
    if (!consume(':')) fail("expected ':' after key " + quoted(key));
    return true;
  }

  void begin_array() {
    expect('[', "'['");
    push(false);
  }

  /// Returns true when another element follows (positioned at it), or consumes the
  /// closing ']' and returns false.
  bool next_element() {
    Frame& f = top(false);
    skip_ws();
    if (f.first) {
      if (consume(']')) return pop();
    } else {
      if (consume(']')) return pop();
      if (!consume(',')) fail("expected ',' or ']' in array");
      skip_ws();
      if (pos_ < text_.size() && text_[pos_] == ']') fail("trailing ',' before ']'");
    }
    f.first = false;
    return true;
  }

  /// Reads a string value and returns it decoded (escapes resolved, UTF-8).
  std::string read_string() {
    skip_ws();
    expect('"', "a string");
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("raw control character in string (must be escaped)");
      if (c != '\\') {
        // Bytes >= 0x80 are copied as they are: the caller validated UTF-8 up front.
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      const std::size_t escape_pos = pos_;
      ++pos_;
      if (pos_ >= text_.size()) fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = read_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(escape_pos, "lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
              fail_at(escape_pos, "high surrogate not followed by a \\u low surrogate");
            pos_ += 2;
            const std::uint32_t low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF)
              fail_at(escape_pos, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at(escape_pos, "invalid escape sequence");
      }
    }
  }

  /// Reads a number token following the JSON grammar.
  JsonNumber read_number() {
    skip_ws();
    JsonNumber n;
    const std::size_t start = pos_;
    bool sign = false, fraction = false, exponent = false;
    if (consume('-')) sign = true;
    if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("expected a digit in number");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))
      fail("leading zero in number");
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    const std::size_t int_end = pos_;
    if (consume('.')) {
      fraction = true;
      if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("expected a digit after '.'");
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      exponent = true;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("expected a digit in exponent");
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    }
    n.text = text_.substr(start, pos_ - start);
    n.plain_unsigned = !sign && !fraction && !exponent;
    if (n.plain_unsigned) {
      n.fits_u64 = true;
      for (std::size_t i = start; i < int_end; ++i) {
        const auto d = static_cast<std::uint64_t>(text_[i] - '0');
        if (n.value > (UINT64_MAX - d) / 10) {
          n.fits_u64 = false;
          n.value = 0;
          break;
        }
        n.value = n.value * 10 + d;
      }
    }
    return n;
  }

  /// Reads and discards one value of any type (depth-limited like everything else).
  void skip_value() {
    switch (peek()) {
      case JsonType::object: {
        begin_object();
        std::string key;
        while (next_member(key)) skip_value();
        return;
      }
      case JsonType::array:
        begin_array();
        while (next_element()) skip_value();
        return;
      case JsonType::string: read_string(); return;
      case JsonType::number: read_number(); return;
      case JsonType::boolean:
      case JsonType::null: read_literal(); return;
      case JsonType::end: fail("unexpected end of text, expected a value");
      case JsonType::invalid: fail("expected a value");
    }
  }

  /// After the top-level value: only JSON whitespace (space, tab, CR, LF) may follow.
  void finish() {
    skip_ws();
    if (pos_ != text_.size()) fail("unexpected bytes after the JSON value");
  }

  std::size_t position() const noexcept { return pos_; }

  /// Throws ErrorKind::format with the context and the current offset.
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    throw Error(ErrorKind::format,
                context_ + ": " + what + " at byte " + std::to_string(base_ + at));
  }

  static std::string quoted(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
  }

 private:
  struct Frame {
    bool object = false;
    bool first = true;
    std::set<std::string> keys;
  };

  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  void skip_ws() noexcept {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool consume(char c) noexcept {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c, const char* what) {
    skip_ws();
    if (!consume(c)) {
      if (pos_ >= text_.size()) fail(std::string("unexpected end of text, expected ") + what);
      fail(std::string("expected ") + what);
    }
  }

  void push(bool object) {
    if (stack_.size() >= max_depth_)
      fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    stack_.emplace_back();
    stack_.back().object = object;
  }

  Frame& top(bool object) {
    // A caller mixing up next_member/next_element is a bug in this library, not bad input;
    // still report it as an error rather than touch an empty stack.
    if (stack_.empty() || stack_.back().object != object)
      throw Error(ErrorKind::invalid_argument, context_ + ": JSON reader used out of order");
    return stack_.back();
  }

  bool pop() {
    stack_.pop_back();
    return false;
  }

  void read_literal() {
    for (const char* word : {"true", "false", "null"}) {
      const std::string_view w(word);
      if (text_.substr(pos_, w.size()) == w) {
        pos_ += w.size();
        return;
      }
    }
    fail("invalid literal");
  }

  std::uint32_t read_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      std::uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<std::uint32_t>(c - 'A' + 10);
      else fail("invalid hex digit in \\u escape");
      v = v * 16 + d;
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view text_;
  std::string context_;
  std::size_t base_;
  std::size_t max_depth_;
  std::size_t pos_ = 0;
  std::vector<Frame> stack_;
};

}  // namespace resnet::io::detail
