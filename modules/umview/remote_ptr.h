// A typed address in a tracee's address space, never dereferenceable locally.
#pragma once

#include <cstddef>
#include <cstdint>

namespace umview {

// RemotePtr<T> names memory in another process. It cannot be dereferenced;
// reads and writes go through Call::Read/Write. Keeping it a distinct type
// stops local and remote pointers from being mixed up.
template <typename T>
class RemotePtr {
 public:
  constexpr RemotePtr() = default;
  constexpr explicit RemotePtr(uint64_t addr) : addr_(addr) {}
  template <typename U>
  constexpr explicit RemotePtr(RemotePtr<U> other) : addr_(other.addr()) {}

  constexpr uint64_t addr() const { return addr_; }
  constexpr bool null() const { return addr_ == 0; }
  constexpr explicit operator bool() const { return addr_ != 0; }

  // Byte offset, whatever T is.
  constexpr RemotePtr ByteOffset(int64_t off) const { return RemotePtr(addr_ + off); }
  template <typename U>
  constexpr RemotePtr<U> Cast() const {
    return RemotePtr<U>(addr_);
  }

  friend constexpr bool operator==(RemotePtr a, RemotePtr b) { return a.addr_ == b.addr_; }

 private:
  uint64_t addr_ = 0;
};

}  // namespace umview
