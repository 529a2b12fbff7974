// MBR and GPT parsing; see partition_table.h.
#include "plugins/umdev/partition_table.h"

#include <algorithm>
#include <cstring>

namespace umview::umdev {
namespace {

constexpr int64_t kSector = 512;

uint32_t Le32(const unsigned char* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t Le64(const unsigned char* p) { return Le32(p) | static_cast<uint64_t>(Le32(p + 4)) << 32; }

bool IsExtended(unsigned char type) { return type == 0x05 || type == 0x0f || type == 0x85; }

void AddClipped(std::vector<Partition>* out, int number, uint64_t start_lba, uint64_t sectors,
                int64_t disk_size) {
  if (sectors == 0 || start_lba == 0) return;
  // The bound first: a table may hold any 64-bit LBA, and LBA * 512 can overflow.
  if (start_lba > static_cast<uint64_t>(disk_size / kSector)) return;
  int64_t start = static_cast<int64_t>(start_lba) * kSector;
  if (start >= disk_size) return;
  int64_t size =
      static_cast<int64_t>(std::min<uint64_t>(sectors, (disk_size - start) / kSector)) * kSector;
  if (size > 0) out->push_back({number, start, size});
}

bool ReadGptHeader(const DiskReader& read, int64_t lba, int64_t disk_size,
                   std::vector<Partition>* out) {
  unsigned char h[92];
  if (!read(h, sizeof h, lba * kSector) || memcmp(h, "EFI PART", 8) != 0) return false;
  uint64_t entries_lba = Le64(h + 72);
  uint32_t count = Le32(h + 80), entry_size = Le32(h + 84);
  if (entry_size < 128 || entry_size > 4096 || count == 0 || count > 4096) return false;
  std::vector<unsigned char> table(static_cast<size_t>(count) * entry_size);
  if (entries_lba > static_cast<uint64_t>(disk_size / kSector) ||
      !read(table.data(), table.size(), static_cast<int64_t>(entries_lba) * kSector)) {
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const unsigned char* e = table.data() + static_cast<size_t>(i) * entry_size;
    static const unsigned char kUnused[16] = {};
    if (memcmp(e, kUnused, 16) == 0) continue;
    uint64_t first = Le64(e + 32), last = Le64(e + 40);
    if (last < first) continue;
    AddClipped(out, static_cast<int>(i) + 1, first, last - first + 1, disk_size);
  }
  return true;
}

}  // namespace

std::vector<Partition> ReadPartitionTable(const DiskReader& read, int64_t disk_size) {
  std::vector<Partition> out;
  unsigned char mbr[512];
  if (disk_size < 2 * kSector || !read(mbr, sizeof mbr, 0) || mbr[510] != 0x55 ||
      mbr[511] != 0xaa) {
    return out;
  }
  const unsigned char* entries = mbr + 446;
  for (int i = 0; i < 4; ++i) {
    if (entries[i * 16 + 4] == 0xee) {
      if (!ReadGptHeader(read, 1, disk_size, &out)) {
        out.clear();
        ReadGptHeader(read, disk_size / kSector - 1, disk_size, &out);
      }
      return out;
    }
  }
  uint64_t ext_start = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned char* e = entries + i * 16;
    unsigned char type = e[4];
    if (type == 0) continue;
    uint64_t start = Le32(e + 8), sectors = Le32(e + 12);
    if (IsExtended(type)) {
      if (ext_start == 0) ext_start = start;
      sectors = std::min<uint64_t>(sectors, 2);
    }
    AddClipped(&out, i + 1, start, sectors, disk_size);
  }
  // Logical partitions: a chain of EBRs, each with the partition (relative to that EBR) and a
  // link to the next EBR (relative to the extended partition).
  uint64_t ebr = ext_start;
  for (int number = 5; ebr != 0 && number < 5 + 256; ++number) {
    unsigned char b[512];
    if (ebr > static_cast<uint64_t>(disk_size / kSector) ||
        !read(b, sizeof b, static_cast<int64_t>(ebr) * kSector) || b[510] != 0x55 ||
        b[511] != 0xaa) {
      break;
    }
    const unsigned char* e = b + 446;
    if (e[4] != 0) AddClipped(&out, number, ebr + Le32(e + 8), Le32(e + 12), disk_size);
    const unsigned char* next = e + 16;
    uint64_t link = Le32(next + 8);
    ebr = IsExtended(next[4]) && link != 0 ? ext_start + link : 0;
  }
  std::sort(out.begin(), out.end(),
            [](const Partition& a, const Partition& b) { return a.number < b.number; });
  return out;
}

}  // namespace umview::umdev
