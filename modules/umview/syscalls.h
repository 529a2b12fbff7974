// The syscall table: one declarative entry per x86-64 system call (number, name,
// argument kinds, routing classes). Header-only so plugins and core share it.
#pragma once

#include <asm/unistd_64.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace umview {

// How an argument is interpreted: by the dispatcher (paths, fds) and by umtrace (printing).
enum class Arg : uint8_t {
  kNone,
  kInt,        // signed decimal
  kUInt,       // unsigned decimal (sizes, counts)
  kHex,        // pointers, opaque values, unknown flag sets
  kFd,         // an existing file descriptor
  kDirFd,      // a directory fd for *at() calls (AT_FDCWD allowed)
  kPath,       // NUL-terminated path, resolved in the view
  kString,     // NUL-terminated string that is not a path (xattr name, fs type)
  kOpenFlags,  // O_* flags
  kMode,       // permission bits, printed in octal
  kAtFlags,    // AT_* flags
  kInBuf,      // bytes the call reads from the tracee; length in the next argument
  kOutBuf,     // bytes the call writes to the tracee; length is the return value
  kSigno,      // a signal number
  kArgv,       // NULL-terminated array of strings (execve argv/envp)
  kSockaddr,   // struct sockaddr the tracee passes in; length in the next argument
  kPid,        // a process or thread id
};

// Routing classes: what the dispatcher must look at to route the call.
enum SyscallClass : uint32_t {
  kClassNone = 0,
  kClassPath = 1u << 0,     // has at least one kPath argument
  kClassFd = 1u << 1,       // acts on an existing fd (its first kFd/kDirFd argument)
  kClassNewFd = 1u << 2,    // returns a new file descriptor
  kClassSocket = 1u << 3,   // socket family calls (socket, connect, bind, ...)
  kClassProcess = 1u << 4,  // fork/clone/exec/exit/wait
  kClassSignal = 1u << 5,   // signal delivery and handling
  kClassMemory = 1u << 6,   // mmap/mprotect/munmap/mremap/brk
  kClassId = 1u << 7,       // credentials (uid/gid/caps)
  kClassFdTable = 1u << 8,  // changes the fd table: dup*, close*, fcntl
};

struct SyscallInfo {
  int nr = -1;
  const char* name = nullptr;
  uint32_t classes = kClassNone;
  uint8_t nargs = 0;
  Arg args[6] = {};
};

namespace syscall_detail {

#define UMVIEW_SYSCALL(name_, classes_, ...) \
  SyscallInfo{                               \
      __NR_##name_, #name_, (classes_), syscall_detail::CountArgs({__VA_ARGS__}), {__VA_ARGS__}},

constexpr uint8_t CountArgs(std::initializer_list<Arg> a) {
  uint8_t n = 0;
  for (Arg x : a) {
    if (x != Arg::kNone) ++n;
  }
  return n;
}

inline constexpr SyscallInfo kTable[] = {
#include "syscall_table.inc"
};
#undef UMVIEW_SYSCALL

constexpr bool Sorted() {
  for (size_t i = 1; i < std::size(kTable); ++i) {
    if (kTable[i - 1].nr >= kTable[i].nr) return false;
  }
  return true;
}
static_assert(Sorted(), "syscall_table.inc must be sorted by number, without duplicates");

inline constexpr int kMaxNr = 512;

constexpr std::array<int16_t, kMaxNr> BuildIndex() {
  std::array<int16_t, kMaxNr> idx{};
  for (auto& x : idx) x = -1;
  for (size_t i = 0; i < std::size(kTable); ++i) idx[kTable[i].nr] = static_cast<int16_t>(i);
  return idx;
}
inline constexpr std::array<int16_t, kMaxNr> kIndex = BuildIndex();

}  // namespace syscall_detail

// Every syscall the table knows, sorted by number.
constexpr const SyscallInfo* SyscallsBegin() { return std::begin(syscall_detail::kTable); }
constexpr const SyscallInfo* SyscallsEnd() { return std::end(syscall_detail::kTable); }

// The entry for `nr`, or nullptr when the number is not a known x86-64 syscall.
constexpr const SyscallInfo* LookupSyscall(long nr) {
  if (nr < 0 || nr >= syscall_detail::kMaxNr) return nullptr;
  int i = syscall_detail::kIndex[nr];
  return i < 0 ? nullptr : &syscall_detail::kTable[i];
}

// Number of the syscall called `name`, or -1.
constexpr int SyscallByName(std::string_view name) {
  for (const SyscallInfo& s : syscall_detail::kTable) {
    if (name == s.name) return s.nr;
  }
  return -1;
}

// Index of the first argument of kind `kind`, or -1.
constexpr int FindArg(const SyscallInfo& s, Arg kind, int from = 0) {
  for (int i = from; i < 6; ++i) {
    if (s.args[i] == kind) return i;
  }
  return -1;
}

}  // namespace umview
