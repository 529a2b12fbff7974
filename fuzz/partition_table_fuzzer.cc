// Fuzz target: umdev's MBR/GPT reader (plugins/umdev/partition_table.cc), fed a disk image that
// comes from the user. The first 8 bytes give the disk size the reader is told (so a table may
// point past the bytes that exist); the rest is the start of the disk, zeros after it.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz/fuzz_support.h"
#include "plugins/umdev/partition_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  umview::fuzz::Input in(data, size);
  int64_t disk_size = static_cast<int64_t>(in.Take<uint64_t>() & ((1ull << 50) - 1));
  std::string_view image = in.Rest();
  auto read = [&](void* buf, size_t len, int64_t offset) {
    if (offset < 0 || len > (1u << 26) || offset > disk_size ||
        static_cast<int64_t>(len) > disk_size - offset) {
      return false;
    }
    std::memset(buf, 0, len);
    if (static_cast<uint64_t>(offset) < image.size()) {
      size_t n = std::min<uint64_t>(len, image.size() - offset);
      std::memcpy(buf, image.data() + offset, n);
    }
    return true;
  };
  for (const auto& p : umview::umdev::ReadPartitionTable(read, disk_size)) {
    // Linux cuts partitions at the disk end; nothing may start before the disk or end after it.
    if (p.start < 0 || p.size < 0 || p.start > disk_size || p.size > disk_size - p.start) {
      fprintf(stderr, "partition %d [%lld, +%lld) outside a disk of %lld bytes\n", p.number,
              (long long)p.start, (long long)p.size, (long long)disk_size);
      abort();
    }
  }
  return 0;
}
