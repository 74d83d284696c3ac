#pragma once
// Replaces the global operator new/delete of the test program that includes it (once)
// with malloc-based versions that, while armed, count allocations and remember the
// largest request. Every form is replaced, so each new pairs with a matching delete
// (AddressSanitizer checks the pairing).
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC cannot see new and delete pair up
#endif

namespace allocation_probe {

struct Stats {
  long count = 0;
  std::size_t largest = 0;
};

namespace detail {
inline std::atomic<bool> armed{false};
inline std::atomic<long> count{0};
inline std::atomic<std::size_t> largest{0};

inline void record(std::size_t size) noexcept {
  if (!armed.load(std::memory_order_relaxed)) return;
  count.fetch_add(1, std::memory_order_relaxed);
  std::size_t seen = largest.load(std::memory_order_relaxed);
  while (size > seen && !largest.compare_exchange_weak(seen, size)) {
  }
}
inline void* allocate(std::size_t size) noexcept {
  record(size);
  return std::malloc(size ? size : 1);
}
inline void* allocate_aligned(std::size_t size, std::align_val_t align) noexcept {
  record(size);
  const std::size_t a = static_cast<std::size_t>(align);
  return std::aligned_alloc(a, (size + a - 1) / a * a);
}
}  // namespace detail

inline void arm() {
  detail::count = 0;
  detail::largest = 0;
  detail::armed = true;
}
inline Stats disarm() {
  detail::armed = false;
  return {detail::count.load(), detail::largest.load()};
}

}  // namespace allocation_probe

void* operator new(std::size_t size) {
  if (void* p = allocation_probe::detail::allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocation_probe::detail::allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocation_probe::detail::allocate(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  if (void* p = allocation_probe::detail::allocate_aligned(size, align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) { return operator new(size, align); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocation_probe::detail::allocate_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocation_probe::detail::allocate_aligned(size, align);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
