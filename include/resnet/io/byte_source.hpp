#pragma once
/// Random access to the bytes of a weight file, held in memory or read from the file one
/// range at a time (so a streamed load never holds the file whole). Every read is
/// checked against the real size first: a range past the end is a format error that says
/// what was being read, never an allocation or a read of what is not there.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/safetensors.hpp"

namespace resnet::io::detail {

class ByteSource {
 public:
  /// The file at `path`, read on demand (ErrorKind::io if it cannot be opened).
  static ByteSource file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::io, path + ": cannot open file for reading");
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    if (!in || end < 0) throw Error(ErrorKind::io, path + ": cannot determine the file size");
    ByteSource s;
    s.name_ = path;
    s.size_ = static_cast<std::uint64_t>(end);
    s.reader_ = std::make_shared<RangeReader>(std::move(in));
    return s;
  }

  /// `bytes` in memory; `name` stands for the file in errors.
  static ByteSource memory(std::vector<std::uint8_t> bytes, std::string name) {
    ByteSource s;
    s.name_ = std::move(name);
    s.size_ = bytes.size();
    s.bytes_ = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
    return s;
  }

  const std::string& name() const noexcept { return name_; }
  std::uint64_t size() const noexcept { return size_; }

  /// True when [offset, offset + n) lies inside the file.
  bool holds(std::uint64_t offset, std::uint64_t n) const noexcept { return offset <= size_ && n <= size_ - offset; }

  /// Copies [offset, offset + n) to `dst`; `what` names the range in the error if it runs
  /// past the end of the file.
  void read(std::uint64_t offset, std::uint64_t n, void* dst, const std::string& what) const {
    if (!holds(offset, n))
      throw Error(ErrorKind::format, name_ + ": " + what + " (bytes " + std::to_string(offset) + " to " +
                                         std::to_string(offset + n) + ") runs past the end of the file (" +
                                         std::to_string(size_) + " bytes; truncated?)");
    if (n == 0) return;
    if (bytes_) std::memcpy(dst, bytes_->data() + offset, static_cast<std::size_t>(n));
    else reader_->read(offset, n, dst, name_);
  }
  std::vector<std::uint8_t> read(std::uint64_t offset, std::uint64_t n, const std::string& what) const {
    if (!holds(offset, n)) read(offset, n, nullptr, what);  // throws before allocating
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
    read(offset, n, out.data(), what);
    return out;
  }

 private:
  std::string name_;
  std::uint64_t size_ = 0;
  std::shared_ptr<const std::vector<std::uint8_t>> bytes_;  // in memory
  std::shared_ptr<RangeReader> reader_;                     // or read from the file; shared by copies
};

/// Reads forward from a ByteSource through a small buffer, up to a limit (a pickle whose
/// length is known only once it has been parsed).
class ByteCursor {
 public:
  ByteCursor(const ByteSource& source, std::uint64_t begin, std::uint64_t limit, std::string what)
      : source_(source), pos_(std::min(begin, source.size())),
        end_(pos_ + std::min(limit, source.size() - pos_)), what_(std::move(what)) {}

  std::uint64_t position() const noexcept { return pos_; }
  /// Bytes left before the limit or the end of the file.
  std::uint64_t remaining() const noexcept { return end_ - pos_; }

  std::uint8_t byte() {
    if (pos_ >= buffer_end_) fill(1);
    return buffer_[static_cast<std::size_t>(pos_++ - buffer_begin_)];
  }
  void read(void* dst, std::uint64_t n) {
    auto* out = static_cast<std::uint8_t*>(dst);
    while (n > 0) {
      if (pos_ >= buffer_end_) fill(n);
      const std::uint64_t take = std::min(n, buffer_end_ - pos_);
      std::memcpy(out, buffer_.data() + (pos_ - buffer_begin_), static_cast<std::size_t>(take));
      out += take;
      pos_ += take;
      n -= take;
    }
  }

 private:
  static constexpr std::uint64_t chunk = 1 << 16;

  void fill(std::uint64_t wanted) {
    if (pos_ >= end_ && end_ < source_.size())
      throw Error(ErrorKind::too_large, source_.name() + ": " + what_ + " is longer than its cap (ends after byte " +
                                            std::to_string(end_) + ")");
    if (pos_ >= end_)
      throw Error(ErrorKind::format, source_.name() + ": " + what_ + " ends at byte " + std::to_string(pos_) +
                                         ", the end of the file, before it is complete (truncated?)");
    const std::uint64_t n = std::min(std::max(wanted, chunk), end_ - pos_);
    buffer_.resize(static_cast<std::size_t>(std::min(n, chunk)));
    const std::uint64_t got = std::min<std::uint64_t>(n, buffer_.size());
    source_.read(pos_, got, buffer_.data(), what_);
    buffer_begin_ = pos_;
    buffer_end_ = pos_ + got;
  }

  const ByteSource& source_;
  std::uint64_t pos_, end_;
  std::string what_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t buffer_begin_ = 0, buffer_end_ = 0;
};

}  // namespace resnet::io::detail
