// Reading MBR (with extended/logical partitions) and GPT partition tables from a disk.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace umview::umdev {

struct Partition {
  int number;     // 1-4 primary or GPT index + 1; 5... logical
  int64_t start;  // bytes from the start of the disk
  int64_t size;   // bytes
};

// Reads `len` bytes at `offset` of the disk; false on a short read or an error.
using DiskReader = std::function<bool(void* buf, size_t len, int64_t offset)>;

// The partitions of a disk of `disk_size` bytes with 512-byte sectors, in number order. A disk
// with no recognised table has none. A GPT (a protective MBR entry of type 0xEE) is read from its
// primary header, or from the backup at the last sector when the primary is damaged; header and
// entry CRCs are not checked. Partitions reaching past the disk end are cut at it (as Linux
// does); an extended MBR partition is listed with a size of 1 KiB, as Linux shows it.
std::vector<Partition> ReadPartitionTable(const DiskReader& read, int64_t disk_size);

}  // namespace umview::umdev
