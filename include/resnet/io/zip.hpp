#pragma once
/// A strict reader of the central directory of an uncompressed zip archive, as torch.save
/// writes it (ZIP64 end records, STORED entries, sizes in the central directory and not in
/// the local headers). It checks, before handing out any entry: one disk, no encryption,
/// no compression, a zip64 record that agrees with the classic one, a central directory
/// that ends where the end records begin, names that are relative paths without `..`,
/// no duplicate names, local headers that repeat their central entry's name, and entry
/// data that lies before the central directory without overlapping another entry.
/// Entry data is not read here: callers read the ranges they need.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "resnet/core/error.hpp"
#include "resnet/io/byte_source.hpp"
#include "resnet/io/json.hpp"

namespace resnet::io::detail {

struct ZipEntry {
  std::string name;
  std::uint64_t header = 0;  ///< offset of the local header
  std::uint64_t offset = 0;  ///< first byte of the data
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
};

inline std::uint32_t crc32(const std::uint8_t* p, std::size_t n) noexcept {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

class ZipArchive {
 public:
  static constexpr std::uint64_t max_entries = 1 << 20;
  static constexpr std::uint64_t max_directory = 64ull << 20;

  explicit ZipArchive(const ByteSource& source) : source_(source) { parse(); }

  const std::vector<ZipEntry>& entries() const noexcept { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }

  /// The whole entry, its CRC-32 checked; entries over `cap` bytes are too_large.
  std::vector<std::uint8_t> read(const ZipEntry& e, std::uint64_t cap) const {
    if (e.size > cap)
      fail(ErrorKind::too_large, "entry " + e.name + " has " + std::to_string(e.size) + " bytes (at most " +
                                     std::to_string(cap) + " are read)");
    std::vector<std::uint8_t> bytes = source_.read(e.offset, e.size, "entry " + e.name);
    if (crc32(bytes.data(), bytes.size()) != e.crc) fail(ErrorKind::format, "entry " + e.name + ": CRC-32 mismatch (corrupt)");
    return bytes;
  }

 private:
  [[noreturn]] void fail(ErrorKind kind, const std::string& what) const {
    throw Error(kind, source_.name() + ": zip: " + what);
  }
  static std::uint16_t u16(const std::uint8_t* p) noexcept { return load_le<std::uint16_t>(p); }
  static std::uint32_t u32(const std::uint8_t* p) noexcept { return load_le<std::uint32_t>(p); }
  static std::uint64_t u64(const std::uint8_t* p) noexcept { return load_le<std::uint64_t>(p); }

  void parse() {
    // The end of central directory record: 22 bytes and a comment of at most 65535.
    const std::uint64_t size = source_.size();
    if (size < 22) fail(ErrorKind::format, "file of " + std::to_string(size) + " bytes is too short for a zip archive");
    const std::uint64_t tail_size = std::min<std::uint64_t>(size, 22 + 0xFFFF);
    const std::vector<std::uint8_t> tail = source_.read(size - tail_size, tail_size, "zip end records");
    std::uint64_t eocd = size;  // file offset
    for (std::size_t i = tail.size() - 22 + 1; i-- > 0;)
      if (u32(&tail[i]) == 0x06054b50 && i + 22 + u16(&tail[i + 20]) == tail.size()) {
        eocd = size - tail_size + i;
        break;
      }
    if (eocd == size) fail(ErrorKind::format, "no end of central directory record (truncated, or not a zip archive)");
    const std::uint8_t* e = &tail[static_cast<std::size_t>(eocd - (size - tail_size))];
    std::uint64_t disk = u16(e + 4), cd_disk = u16(e + 6), on_disk = u16(e + 8), count = u16(e + 10);
    std::uint64_t cd_size = u32(e + 12), cd_offset = u32(e + 16);
    std::uint64_t cd_end_limit = eocd;  // where the central directory must end

    // ZIP64: a locator right before the classic record points at the zip64 record.
    if (eocd >= 20) {
      std::uint8_t loc[20];
      source_.read(eocd - 20, 20, loc, "zip64 locator");
      if (u32(loc) == 0x07064b50) {
        const std::uint64_t record = u64(loc + 8);
        if (u32(loc + 4) != 0 || u32(loc + 16) != 1) fail(ErrorKind::format, "multi-disk archives are not read");
        if (record > eocd - 20 || eocd - 20 - record < 56)
          fail(ErrorKind::format, "zip64 locator points at offset " + std::to_string(record) +
                                      ", which leaves no room for the zip64 record before it");
        std::uint8_t z[56];
        source_.read(record, 56, z, "zip64 end of central directory");
        if (u32(z) != 0x06064b50) fail(ErrorKind::format, "no zip64 end of central directory record at offset " + std::to_string(record));
        if (u64(z + 4) != eocd - 20 - record - 12)
          fail(ErrorKind::format, "zip64 record size " + std::to_string(u64(z + 4)) + " does not reach the locator");
        const std::uint64_t z_disk = u32(z + 16), z_cd_disk = u32(z + 20), z_on_disk = u64(z + 24),
                            z_count = u64(z + 32), z_cd_size = u64(z + 40), z_cd_offset = u64(z + 48);
        // Classic fields hold the real value or, when it does not fit, all ones.
        auto agree = [&](std::uint64_t classic, std::uint64_t sentinel, std::uint64_t wide, const char* what) {
          if (classic != sentinel && classic != wide)
            fail(ErrorKind::format, std::string("zip64 record says ") + what + " " + std::to_string(wide) +
                                        ", the classic record " + std::to_string(classic));
          return wide;
        };
        disk = agree(disk, 0xFFFF, z_disk, "disk");
        cd_disk = agree(cd_disk, 0xFFFF, z_cd_disk, "central directory disk");
        on_disk = agree(on_disk, 0xFFFF, z_on_disk, "entries on this disk");
        count = agree(count, 0xFFFF, z_count, "entry count");
        cd_size = agree(cd_size, 0xFFFFFFFF, z_cd_size, "central directory size");
        cd_offset = agree(cd_offset, 0xFFFFFFFF, z_cd_offset, "central directory offset");
        cd_end_limit = record;
      } else if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
        fail(ErrorKind::format, "the end record defers to a zip64 record that is not there");
      }
    }
    if (disk != 0 || cd_disk != 0 || on_disk != count) fail(ErrorKind::format, "multi-disk archives are not read");
    if (count > max_entries) fail(ErrorKind::too_large, std::to_string(count) + " entries (at most " + std::to_string(max_entries) + ")");
    if (cd_size > max_directory) fail(ErrorKind::too_large, "central directory of " + std::to_string(cd_size) + " bytes");
    if (cd_offset > cd_end_limit || cd_end_limit - cd_offset != cd_size)
      fail(ErrorKind::format, "central directory at offset " + std::to_string(cd_offset) + " of " +
                                  std::to_string(cd_size) + " bytes does not end where the end records begin (" +
                                  std::to_string(cd_end_limit) + ")");
    const std::vector<std::uint8_t> cd = source_.read(cd_offset, cd_size, "central directory");
    cd_offset_ = cd_offset;
    std::size_t p = 0;
    for (std::uint64_t i = 0; i < count; ++i) p = parse_central(cd, p);
    if (p != cd.size())
      fail(ErrorKind::format, "central directory has " + std::to_string(cd.size() - p) + " bytes after its " +
                                  std::to_string(count) + " entries");
    check_local_headers();
  }

  std::size_t parse_central(const std::vector<std::uint8_t>& cd, std::size_t p) {
    if (cd.size() - p < 46 || u32(&cd[p]) != 0x02014b50)
      fail(ErrorKind::format, "central directory entry " + std::to_string(entries_.size()) + " is malformed");
    const std::uint8_t* h = &cd[p];
    const std::size_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    if (cd.size() - p - 46 < name_len + extra_len + comment_len)
      fail(ErrorKind::format, "central directory entry " + std::to_string(entries_.size()) + " runs past the directory");
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    check_name(e.name);
    const std::uint16_t flags = u16(h + 8), method = u16(h + 10);
    if (flags & 0x41) fail(ErrorKind::format, "entry " + e.name + " is encrypted");
    if (method != 0)
      fail(ErrorKind::format, "entry " + e.name + " is compressed (method " + std::to_string(method) +
                                  "); torch.save stores entries uncompressed");
    e.crc = u32(h + 16);
    std::uint64_t packed = u32(h + 20), unpacked = u32(h + 24), header = u32(h + 42), disk = u16(h + 34);
    // The zip64 extra field holds, in this order, those of the four that are all ones.
    bool wide_seen = false;
    const std::uint8_t* x = h + 46 + name_len;
    for (std::size_t q = 0; q < extra_len;) {
      if (extra_len - q < 4) fail(ErrorKind::format, "entry " + e.name + ": malformed extra field");
      const std::uint16_t id = u16(x + q), len = u16(x + q + 2);
      if (extra_len - q - 4 < len) fail(ErrorKind::format, "entry " + e.name + ": extra field runs past its entry");
      if (id == 0x0001) {
        if (wide_seen) fail(ErrorKind::format, "entry " + e.name + ": two zip64 extra fields");
        wide_seen = true;
        std::size_t r = 0;
        auto widen = [&](std::uint64_t& v, std::uint64_t sentinel, std::size_t bytes) {
          if (v != sentinel) return;
          if (len - r < bytes) fail(ErrorKind::format, "entry " + e.name + ": zip64 extra field lacks a value it defers to");
          v = bytes == 8 ? u64(x + q + 4 + r) : u32(x + q + 4 + r);
          r += bytes;
        };
        widen(unpacked, 0xFFFFFFFF, 8);
        widen(packed, 0xFFFFFFFF, 8);
        widen(header, 0xFFFFFFFF, 8);
        widen(disk, 0xFFFF, 4);
      }
      q += 4u + len;
    }
    if (!wide_seen && (unpacked == 0xFFFFFFFF || packed == 0xFFFFFFFF || header == 0xFFFFFFFF || disk == 0xFFFF))
      fail(ErrorKind::format, "entry " + e.name + " defers to a zip64 extra field that is not there");
    if (disk != 0) fail(ErrorKind::format, "entry " + e.name + " is on another disk");
    if (packed != unpacked)
      fail(ErrorKind::format, "entry " + e.name + " is stored with " + std::to_string(packed) + " bytes but " +
                                  std::to_string(unpacked) + " uncompressed");
    e.size = unpacked;
    e.header = header;
    if (!index_.emplace(e.name, entries_.size()).second) fail(ErrorKind::format, "duplicate entry " + e.name);
    entries_.push_back(std::move(e));
    return p + 46 + name_len + extra_len + comment_len;
  }

  void check_name(const std::string& name) const {
    const std::string shown = JsonReader::quoted(is_valid_utf8(name) ? name : std::string("<not UTF-8>"));
    if (name.empty() || name.size() > 4096 || !is_valid_utf8(name) || name.find('\0') != std::string::npos ||
        name.find('\\') != std::string::npos || name.front() == '/')
      fail(ErrorKind::format, "entry name " + shown + " is not a relative path");
    std::size_t start = 0;
    for (;;) {
      const std::size_t slash = name.find('/', start);
      const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if ((part.empty() && slash != std::string::npos) || part == "." || part == "..")
        fail(ErrorKind::format, "entry name " + shown + " has an empty, '.' or '..' component");
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }

  // Each local header repeats its name; data lies before the central directory, and no two
  // entries share bytes.
  void check_local_headers() {
    std::vector<const ZipEntry*> order;
    for (ZipEntry& e : entries_) {
      std::vector<std::uint8_t> h = source_.read(e.header, 30, "local header of " + e.name);
      if (u32(h.data()) != 0x04034b50) fail(ErrorKind::format, "entry " + e.name + ": no local header at offset " + std::to_string(e.header));
      if (u16(h.data() + 8) != 0) fail(ErrorKind::format, "entry " + e.name + ": local header says compressed");
      const std::uint64_t name_len = u16(h.data() + 26), extra_len = u16(h.data() + 28);
      const std::vector<std::uint8_t> name = source_.read(e.header + 30, name_len, "local header of " + e.name);
      if (std::string(name.begin(), name.end()) != e.name)
        fail(ErrorKind::format, "entry " + e.name + ": local header names another file");
      e.offset = e.header + 30 + name_len + extra_len;
      if (e.offset > cd_offset_ || cd_offset_ - e.offset < e.size)
        fail(ErrorKind::format, "entry " + e.name + " (" + std::to_string(e.size) + " bytes at offset " +
                                    std::to_string(e.offset) + ") runs into the central directory");
      order.push_back(&e);
    }
    std::sort(order.begin(), order.end(), [](const ZipEntry* a, const ZipEntry* b) { return a->header < b->header; });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i - 1]->offset + order[i - 1]->size > order[i]->header)
        fail(ErrorKind::format, "entries " + order[i - 1]->name + " and " + order[i]->name + " overlap");
  }

  const ByteSource& source_;
  std::uint64_t cd_offset_ = 0;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace resnet::io::detail
