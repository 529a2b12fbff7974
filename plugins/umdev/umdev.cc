// umdev: virtual devices in a view (null, zero, ramdisks, partitioned disk images, file-backed
// devices). Options and device numbers are described in plugins/umdev/README.md.
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "plugins/umdev/devices.h"
#include "plugins/umdev/partition_table.h"
#include "umview/device.h"
#include "umview/plugin.h"

namespace umview::umdev {
namespace {

constexpr unsigned kMajor = 240;          // first of the kernel's local/experimental majors
constexpr unsigned kMinorsPerDisk = 256;  // minor = disk index * 256 + partition number

struct Spec {
  std::string kind, path;
  mode_t perm = 0;
  bool has_perm = false;
  int64_t size = -1;
  std::string save, image;
  bool ro = false, chr = false;
};

// "64M", "1G", "4096": binary suffixes K, M, G, T. False if not a number.
bool ParseSize(const std::string& s, int64_t* out) {
  if (s.empty() || !isdigit(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (errno != 0) return false;
  int shift = 0;
  std::string suffix(end);
  if (suffix == "K" || suffix == "k") {
    shift = 10;
  } else if (suffix == "M") {
    shift = 20;
  } else if (suffix == "G") {
    shift = 30;
  } else if (suffix == "T") {
    shift = 40;
  } else if (!suffix.empty()) {
    return false;
  }
  if (v > (static_cast<unsigned long long>(INT64_MAX) >> shift)) return false;
  *out = static_cast<int64_t>(v << shift);
  return true;
}

std::string PartitionName(const std::string& disk, int number) {
  bool digit = !disk.empty() && isdigit(static_cast<unsigned char>(disk.back()));
  return disk + (digit ? "p" : "") + std::to_string(number);
}

class UmDev final : public Plugin {
 public:
  bool Init(Host& host, const Options& options, std::string* error) override {
    host_ = &host;
    std::vector<Spec> specs;
    for (const Option& option : options) {
      // A YAML list of devices of one kind arrives as KIND=ITEM+ITEM...; each item starts with
      // its absolute path, so the items are split at "+/".
      std::vector<Option> items;
      for (size_t start = 0;;) {
        size_t plus = option.value.find("+/", start);
        Option o = option;
        o.value = option.value.substr(start, plus == std::string::npos ? plus : plus - start);
        items.push_back(std::move(o));
        if (plus == std::string::npos) break;
        start = plus + 1;
      }
      for (const Option& o : items) {
        Spec s;
        if (!ParseSpec(o, &s, error)) return false;
        for (const Spec& other : specs) {
          if (other.path == s.path) {
            *error = o.key + "=" + s.path + ": the path is already a device";
            return false;
          }
        }
        specs.push_back(std::move(s));
      }
    }
    if (specs.empty()) {
      *error =
          "no device given (expected null=PATH, zero=PATH, ramdisk=PATH:size=N, "
          "disk=PATH:image=FILE, file=PATH:path=FILE)";
      return false;
    }
    for (const Spec& s : specs) {
      if (!Create(s, error)) return false;
    }
    table_.Attach(host);
    return true;
  }

  void OnEntry(Call& call) override { table_.OnEntry(call); }
  void OnExit(Call& call) override { table_.OnExit(call); }
  void OnTaskExit(pid_t tid, int) override { table_.OnTaskExit(tid); }

  void OnShutdown() override {
    for (auto& [disk, path] : saves_) {
      int r = disk->Save(path);
      if (r < 0) {
        host_->Log(LogLevel::kError, "ramdisk save=" + path + ": " + strerror(-r));
      }
    }
    saves_.clear();
  }

 private:
  bool ParseSpec(const Option& o, Spec* s, std::string* error) {
    s->kind = o.key;
    if (o.key != "null" && o.key != "zero" && o.key != "ramdisk" && o.key != "disk" &&
        o.key != "file") {
      *error = "unknown option '" + o.key + "' (expected null, zero, ramdisk, disk, file)";
      return false;
    }
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t c = o.value.find(':', start);
      parts.push_back(o.value.substr(start, c == std::string::npos ? c : c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    s->path = parts[0];
    std::string where = o.key + "=" + s->path;
    if (!o.has_value || s->path.empty() || s->path[0] != '/' || s->path.back() == '/' ||
        s->path.find("//") != std::string::npos || s->path.find("/./") != std::string::npos ||
        s->path.find("/../") != std::string::npos) {
      *error = o.key + ": expected " + o.key + "=/ABSOLUTE/PATH[:OPTION...], got '" + o.value + "'";
      return false;
    }
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string& p = parts[i];
      size_t eq = p.find('=');
      std::string key = p.substr(0, eq), value = eq == std::string::npos ? "" : p.substr(eq + 1);
      bool has_value = eq != std::string::npos;
      auto bad = [&](const std::string& why) {
        *error = where + ": " + why;
        return false;
      };
      if (key == "mode" && has_value) {
        char* end = nullptr;
        unsigned long m = strtoul(value.c_str(), &end, 8);
        if (value.empty() || *end != 0 || m > 0777) return bad("mode=" + value + " is not 0-0777");
        s->perm = static_cast<mode_t>(m);
        s->has_perm = true;
      } else if (key == "size" && has_value && o.key == "ramdisk") {
        if (!ParseSize(value, &s->size) || s->size <= 0 || s->size % 512 != 0) {
          return bad("size=" + value + " is not a positive multiple of 512 (suffixes K, M, G, T)");
        }
      } else if (key == "save" && has_value && o.key == "ramdisk" && !value.empty()) {
        s->save = value;
      } else if (key == "image" && has_value && o.key == "disk" && !value.empty()) {
        s->image = value;
      } else if (key == "path" && has_value && o.key == "file" && !value.empty()) {
        s->image = value;
      } else if (key == "ro" && !has_value && (o.key == "disk" || o.key == "file")) {
        s->ro = true;
      } else if (key == "char" && !has_value && o.key == "file") {
        s->chr = true;
      } else {
        return bad("unknown or misplaced option '" + p + "' (" + Expected(o.key) + ")");
      }
    }
    if (o.key == "ramdisk" && s->size < 0) {
      *error = where + ": size=N is required";
      return false;
    }
    if (o.key == "disk" && s->image.empty()) {
      *error = where + ": image=FILE is required";
      return false;
    }
    if (o.key == "file" && s->image.empty()) {
      *error = where + ": path=FILE is required";
      return false;
    }
    return true;
  }

  static std::string Expected(const std::string& kind) {
    if (kind == "ramdisk") return "expected size=N, save=FILE, mode=OCTAL";
    if (kind == "disk") return "expected image=FILE, ro, mode=OCTAL";
    if (kind == "file") return "expected path=FILE, ro, char, mode=OCTAL";
    return "expected mode=OCTAL";
  }

  bool Create(const Spec& s, std::string* error) {
    std::string where = s.kind + "=" + s.path;
    DeviceNode n;
    n.path = s.path;
    n.major = kMajor;
    if (s.kind == "null" || s.kind == "zero" || (s.kind == "file" && s.chr)) {
      n.type = DeviceType::kChar;
      n.minor = next_char_minor_++;
      n.perm = s.has_perm ? s.perm : (s.kind == "file" ? 0660 : 0666);
    } else {
      n.type = DeviceType::kBlock;
      n.minor = next_disk_++ * kMinorsPerDisk;
      n.perm = s.has_perm ? s.perm : 0660;
    }
    if (s.kind == "null") {
      n.device = std::make_shared<NullDevice>();
    } else if (s.kind == "zero") {
      n.device = std::make_shared<ZeroDevice>();
    } else if (s.kind == "ramdisk") {
      auto rd = std::make_shared<RamDisk>(s.size);
      if (!s.save.empty()) {
        int r = rd->Load(s.save);
        if (r < 0 && r != -ENOENT) {
          *error = where + ": save=" + s.save + ": " +
                   (r == -EFBIG ? std::string("larger than the ramdisk") : strerror(-r));
          return false;
        }
        saves_.emplace_back(rd, s.save);
      }
      n.device = rd;
    } else {
      int err = 0;
      auto fd = FileDevice::Create(s.image, s.ro, n.type == DeviceType::kBlock, &err);
      if (!fd) {
        *error =
            where + ": " + (s.kind == "disk" ? "image=" : "path=") + s.image + ": " + strerror(err);
        return false;
      }
      if (s.kind == "disk") {
        Disk d{s.path, n.minor, fd, {}};
        disks_.push_back(d);
        size_t index = disks_.size() - 1;
        n.device = std::make_shared<DiskDevice>(fd, [this, index] { return Rescan(index); });
      } else {
        n.device = fd;
      }
    }
    if (table_.Find(n.path) != nullptr) {
      *error = where + ": the path is already a device (a partition of another disk)";
      return false;
    }
    table_.Add(n);
    if (s.kind == "disk") {
      std::string clash;
      AddPartitions(disks_.size() - 1, &clash);
      if (!clash.empty()) {
        *error = where + ": partition " + clash + " is already a device";
        return false;
      }
    }
    return true;
  }

  struct Disk {
    std::string path;
    unsigned minor;
    std::shared_ptr<FileDevice> media;
    std::vector<std::string> partitions;  // node paths
  };

  // Makes the nodes of the disk's partitions. A name already taken by another device is left
  // out and reported in *clash.
  void AddPartitions(size_t index, std::string* clash) {
    Disk& d = disks_[index];
    const DeviceNode* whole = table_.Find(d.path);
    std::shared_ptr<FileDevice> media = d.media;
    auto parts = ReadPartitionTable(
        [&](void* buf, size_t len, int64_t off) {
          return media->Read(buf, len, off) == static_cast<int64_t>(len);
        },
        media->Size());
    for (const Partition& p : parts) {
      if (p.number >= static_cast<int>(kMinorsPerDisk)) continue;
      DeviceNode n;
      n.path = PartitionName(d.path, p.number);
      if (table_.Find(n.path) != nullptr) {
        if (clash->empty()) *clash = n.path;
        continue;
      }
      n.type = DeviceType::kBlock;
      n.major = kMajor;
      n.minor = d.minor + static_cast<unsigned>(p.number);
      n.perm = whole->perm;
      n.start = p.start;
      n.device = std::make_shared<PartitionDevice>(media, p.start, p.size);
      table_.Add(std::move(n));
      d.partitions.push_back(PartitionName(d.path, p.number));
    }
  }

  // BLKRRPART: the image may have a new table (sfdisk, or a change from outside). Descriptors
  // open on the old partitions keep their old extent, as they keep their device on Linux
  // when the table is re-read with BLKPG.
  int Rescan(size_t index) {
    Disk& d = disks_[index];
    for (const std::string& p : d.partitions) table_.Remove(p);
    d.partitions.clear();
    d.media->Refresh();
    std::string clash;
    AddPartitions(index, &clash);
    if (!clash.empty()) host_->Log(LogLevel::kWarning, "partition " + clash + " hides a device");
    return 0;
  }

  Host* host_ = nullptr;
  DeviceTable table_;
  std::vector<Disk> disks_;
  std::vector<std::pair<std::shared_ptr<RamDisk>, std::string>> saves_;
  unsigned next_char_minor_ = 0;
  unsigned next_disk_ = 0;
};

}  // namespace
}  // namespace umview::umdev

UMVIEW_PLUGIN(umview::umdev::UmDev, "umdev",
              "virtual devices: null, zero, ramdisks, partitioned disk images, file devices")
