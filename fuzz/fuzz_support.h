// Helpers shared by the fuzz targets: a private scratch directory for anything a target must put
// on disk, and a little reader that takes typed values off the fuzzer's input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace umview::fuzz {

// A directory under $TMPDIR made once per fuzzer process (removed at exit). Targets confine every
// file a plugin option could create or open to it, so a mutated option never touches the host.
const std::string& PrivateDir();

// Replaces an option value naming a file by a file of PrivateDir() ("" stays "", so the
// empty-value errors are still reached). Slashes become '_': the name cannot climb out.
std::string Confine(std::string_view value);

// Consumes the input front to back; past the end every read yields zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  template <typename T>
  T Take() {
    T v{};
    size_t n = std::min(sizeof v, Left());
    std::memcpy(&v, p_, n);
    p_ += n;
    return v;
  }
  // Up to the next '\n' (not included), or the rest.
  std::string Line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', Left()));
    const uint8_t* stop = nl ? nl : end_;
    std::string s(reinterpret_cast<const char*>(p_), stop - p_);
    p_ = nl ? nl + 1 : end_;
    return s;
  }
  std::string_view Rest() {
    std::string_view s(reinterpret_cast<const char*>(p_), Left());
    p_ = end_;
    return s;
  }
  size_t Left() const { return static_cast<size_t>(end_ - p_); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace umview::fuzz
