// umdev: virtual devices seen by real programs (bash, dd, blockdev, sfdisk, mkfs.ext2, e2fsck)
// under the real umview binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/run.h"

namespace umview::test {
namespace {

bool Have(const std::string& tool) {
  return Run({"sh", "-c",
              "command -v " + tool + " || test -x /usr/sbin/" + tool + " || test -x /sbin/" + tool})
             .exit_code == 0;
}

class UmDev : public ::testing::Test {
 protected:
  void SetUp() override {
    // e2fsprogs and sfdisk live in /usr/sbin, not always in a user's PATH.
    env_ = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  }
  // umview -p umdev,DEVICES... [--stats] -- bash -c SCRIPT
  RunResult Sh(const std::vector<std::string>& devices, const std::string& script,
               bool stats = false) {
    std::string p = PluginPath("umdev");
    for (const auto& d : devices) p += "," + d;
    std::vector<std::string> args;
    if (stats) args.push_back("--stats");
    args.insert(args.end(), {"-p", p, "--", "bash", "-c", script});
    RunOptions o;
    o.extra_env = env_;
    o.cwd = dir_.path();
    o.timeout_seconds = 100;
    return RunUmview(args, o);
  }
  // A disk image of `mib` MiB filled with a pattern, partitioned by sfdisk with `table`.
  std::string MakeImage(const std::string& name, int mib, const std::string& table) {
    std::string img = dir_ / name;
    std::string data(static_cast<size_t>(mib) << 20, 0);
    uint32_t x = 12345;
    for (char& c : data) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
    WriteFile(img, data);
    if (!table.empty()) {
      RunOptions o;
      o.stdin_data = table;
      o.extra_env = env_;
      RunResult r = test::Run({"sfdisk", "-q", img}, o);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return img;
  }
  TempDir dir_;
  std::vector<std::string> env_;
};

TEST_F(UmDev, RedirectionsAndPipesThroughNullAndZero) {
  RunResult r = Sh({"null=/dev/umnull", "zero=/dev/umzero"},
                   "cat < /dev/umzero | head -c 10 | od -An -tx1; echo x > /dev/umnull; "
                   "echo null=$?; cat /dev/umnull | wc -c; exec 3</dev/umzero; "
                   "head -c 3 <&3 | od -An -tx1; exec 3<&-; "
                   "dd if=/dev/umzero of=/dev/umnull bs=4k count=5 status=none; echo dd=$?");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, " 00 00 00 00 00 00 00 00 00 00\nnull=0\n0\n 00 00 00\ndd=0\n");
}

// The ptrace engine's prefilter takes the device paths for its prefixes: programs run with no
// execve stop, alone and stacked under viewfs prefilter=on, while the devices still work.
TEST_F(UmDev, ProgramsRunWithoutAStopBesideTheDevices) {
  auto execve_stops = [](const std::string& err) {
    size_t at = err.find("\nexecve ");
    if (at == std::string::npos) return -1L;
    return std::stol(err.substr(at + 8));
  };
  const std::string script = "/bin/true; echo x > /dev/umnull; head -c 3 /dev/umzero | od -An -tx1";
  const std::string dev = PluginPath("umdev") + ",null=/dev/umnull,zero=/dev/umzero";
  const std::string vfs = PluginPath("viewfs") + ",bind=/usr/share/zoneinfo:/mnt/zi,prefilter=on";
  for (const bool stacked : {false, true}) {
    std::vector<std::string> args = {"-e", "ptrace", "--stats"};
    if (stacked) args.insert(args.end(), {"-p", vfs});
    args.insert(args.end(), {"-p", dev, "--", "sh", "-c", script});
    RunResult r = RunUmview(args);
    ASSERT_EQ(r.exit_code, 0) << stacked << ": " << r.err;
    EXPECT_EQ(r.out, " 00 00 00\n") << stacked;
    EXPECT_EQ(execve_stops(r.err), 0) << stacked << ": " << r.err;
  }
}

TEST_F(UmDev, DescriptorCallsOnARamdisk) {
  std::string p = PluginPath("umdev") + ",ramdisk=/dev/umram0:size=1M";
  RunResult r = RunUmview({"-p", p, "--", Tracee("umdev_io"), "/dev/umram0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "stat blk=1 240:0 size=0\n"
            "statx blk=1 240:0\n"
            "access rw=ok x=EACCES\n"
            "open excl=EEXIST dir=ENOTDIR\n"
            "fstat same=1\n"
            "ioctl size64=1048576 sectors=2048 ssz=512 pbsz=512 ro=0\n"
            "geo=ok heads=255 sectors=63\n"
            "flsbuf=ok bogus=ENOTTY\n"
            "seek_end=size\n"
            "seek_past=EINVAL\n"
            "short_pwrite=3\n"
            "write_end=ENOSPC\n"
            "pread_end=0\n"
            "pread_tail=3 hel\n"
            "writev=7 pos=107\n"
            "readv=7 ab|cdefg\n"
            "fsync=ok\n"
            "mmap=ENODEV\n"
            "write_rdonly=EBADF\n"
            "below=ENOTDIR readlink=EINVAL\n");
}

// sendfile and splice with a device on either side: umview moves the data (the descriptor is a
// stand-in FIFO the kernel must not touch), positions and offset pointers advance.
TEST_F(UmDev, SendfileAndSpliceWithADevice) {
  WriteFile(dir_ / "t.py", R"(import os, errno
data = bytes(range(256)) * 400
open('host', 'wb').write(data)
def p(*a): print(*a, flush=True)
dev = os.open('/dev/umram0', os.O_RDWR); src = os.open('host', os.O_RDONLY)
p('sendfile to device', os.sendfile(dev, src, None, len(data)), os.lseek(dev, 0, os.SEEK_CUR))
out = os.open('out', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
p('sendfile from device', os.sendfile(out, dev, 100, 1000), os.lseek(dev, 0, os.SEEK_CUR))
p(open('out', 'rb').read() == data[100:1100])
r, w = os.pipe()
os.lseek(dev, 7, os.SEEK_SET)
p('splice from device', os.splice(dev, w, 20), os.lseek(dev, 0, os.SEEK_CUR), os.read(r, 20) == data[7:27])
os.write(w, b'spliced!')
p('splice to device', os.splice(r, dev, 8, offset_dst=5000), os.pread(dev, 8, 5000))
try: os.copy_file_range(dev, out, 10)
except OSError as e: p('copy_file_range', errno.errorcode[e.errno])
)");
  std::string p = PluginPath("umdev") + ",ramdisk=/dev/umram0:size=1M";
  RunOptions o;
  o.cwd = dir_.path();
  RunResult r = RunUmview({"-p", p, "--", "python3", "t.py"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "sendfile to device 102400 102400\n"
            "sendfile from device 1000 102400\n"
            "True\n"
            "splice from device 20 27 True\n"
            "splice to device 8 b'spliced!'\n"
            "copy_file_range EINVAL\n");
}

TEST_F(UmDev, StatAndListingShowTheNodes) {
  RunResult r = Sh({"null=/dev/umnull", "ramdisk=/dev/umram0:size=64M"},
                   "stat -c '%n %F %t:%T %a' /dev/umram0 /dev/umnull; "
                   "ls -l /dev | awk '/ um/ {print $1, $5, $6, $NF}'; ls -d /dev/um*; "
                   "test -b /dev/umram0 && test -c /dev/umnull && echo tests");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "/dev/umram0 block special file f0:0 660\n"
            "/dev/umnull character special file f0:0 666\n"
            "crw-rw-rw- 240, 0 umnull\n"
            "brw-rw---- 240, 0 umram0\n"
            "/dev/umnull\n/dev/umram0\n"
            "tests\n");
}

TEST_F(UmDev, BlockdevReadsTheSizes) {
  if (!Have("blockdev")) GTEST_SKIP() << "blockdev (util-linux) is not installed";
  RunResult r = Sh({"ramdisk=/dev/umram0:size=64M"},
                   "blockdev --getsize64 --getsz --getss --getpbsz --getro /dev/umram0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "67108864\n131072\n512\n512\n0\n");
}

TEST_F(UmDev, DdThroughARamdiskAndSaveAtExit) {
  std::string save = dir_ / "ram.img";
  RunResult r = Sh({"ramdisk=/dev/umram0:size=1M:save=" + save, "zero=/dev/umzero"},
                   "printf hello | dd of=/dev/umram0 bs=1 seek=512 status=none; "
                   "dd if=/dev/umram0 bs=512 skip=1 count=1 status=none | head -c 5; echo; "
                   "dd if=/dev/umzero of=/dev/umram0 bs=512k count=3 seek=0 status=none "
                   "conv=notrunc 2>&1 | sed 's/.*: //'; "
                   "printf world | dd of=/dev/umram0 bs=1 seek=1048571 status=none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nNo space left on device\n");
  std::string img = ReadFile(save);
  ASSERT_EQ(img.size(), 1u << 20);
  EXPECT_EQ(img.substr(512, 5), std::string(5, '\0')) << "zeroed by the second dd";
  EXPECT_EQ(img.substr(1048571), "world");
  // The saved file is loaded again by the next view.
  r = Sh({"ramdisk=/dev/umram0:size=1M:save=" + save}, "tail -c 5 /dev/umram0");
  EXPECT_EQ(r.out, "world");
}

TEST_F(UmDev, Ext2OnARamdisk) {
  if (!Have("mkfs.ext2") || !Have("e2fsck")) GTEST_SKIP() << "e2fsprogs is not installed";
  RunResult r =
      Sh({"ramdisk=/dev/umram0:size=64M"}, "mkfs.ext2 -q -F /dev/umram0 && e2fsck -fn /dev/umram0");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("/dev/umram0: 11/"), std::string::npos) << r.out;
}

TEST_F(UmDev, Ext2OnAGptPartitionWritesOnlyThere) {
  if (!Have("sfdisk")) GTEST_SKIP() << "sfdisk (Debian package fdisk) is not installed";
  if (!Have("mkfs.ext2") || !Have("e2fsck")) GTEST_SKIP() << "e2fsprogs is not installed";
  std::string img = MakeImage("disk.img", 64, "label: gpt\nsize=20M\nsize=20M\n");
  std::string before = ReadFile(img);
  RunResult r = Sh({"disk=/dev/umda:image=" + img},
                   "ls /dev/umda*; mkfs.ext2 -q -F /dev/umda2 && e2fsck -fn /dev/umda2 >/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "/dev/umda\n/dev/umda1\n/dev/umda2\n");
  std::string after = ReadFile(img);
  ASSERT_EQ(after.size(), before.size());
  // sfdisk's default alignment: partition 1 at sector 2048, partition 2 right after it.
  const size_t start = 43008 * 512, size = 20 << 20;
  EXPECT_TRUE(after.compare(0, start, before, 0, start) == 0) << "bytes before partition 2";
  EXPECT_TRUE(
      after.compare(start + size, std::string::npos, before, start + size, std::string::npos) == 0)
      << "bytes after partition 2";
  EXPECT_NE(after.substr(start, size), before.substr(start, size));
  // The file system is at the partition's offset: e2fsck on a copy of those bytes is clean.
  WriteFile(dir_ / "part2.img", after.substr(start, size));
  RunOptions o;
  o.extra_env = env_;
  RunResult host = test::Run({"e2fsck", "-fn", dir_ / "part2.img"}, o);
  EXPECT_EQ(host.exit_code, 0) << host.out << host.err;
}

TEST_F(UmDev, WritesToPartitionTwoLandExactlyAtItsOffset) {
  if (!Have("sfdisk")) GTEST_SKIP() << "sfdisk (Debian package fdisk) is not installed";
  std::string img = MakeImage("disk.img", 16, "label: gpt\nsize=4M\nsize=4M\n");
  std::string before = ReadFile(img);
  const size_t start = (2048 + 8192) * 512, size = 4 << 20;
  RunResult r = Sh({"disk=/dev/umda:image=" + img, "zero=/dev/umzero"},
                   "tr '\\0' P < /dev/umzero | head -c " + std::to_string(size) +
                       " > /dev/umda2; echo w=$?; "
                       "printf x | dd of=/dev/umda2 bs=1 seek=" +
                       std::to_string(size) + " status=none 2>&1 | sed 's/.*: //'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "w=0\nNo space left on device\n");
  std::string after = ReadFile(img);
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(after.substr(start, size), std::string(size, 'P'));
  EXPECT_TRUE(after.compare(0, start, before, 0, start) == 0);
  EXPECT_TRUE(
      after.compare(start + size, std::string::npos, before, start + size, std::string::npos) == 0);
}

TEST_F(UmDev, MbrPrimaryExtendedAndLogicalPartitions) {
  if (!Have("sfdisk")) GTEST_SKIP() << "sfdisk (Debian package fdisk) is not installed";
  std::string img = MakeImage("mbr.img", 32, "label: dos\nsize=8M\ntype=5\nsize=4M\nsize=4M\n");
  RunResult r = Sh({"disk=/dev/umdisk0:image=" + img},
                   "for p in /dev/umdisk0*; do echo $p $(stat -c %T $p) "
                   "$(blockdev --getsize64 $p); done");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "/dev/umdisk0 0 33554432\n/dev/umdisk0p1 1 8388608\n/dev/umdisk0p2 2 1024\n"
            "/dev/umdisk0p5 5 4194304\n/dev/umdisk0p6 6 4194304\n");
}

TEST_F(UmDev, SfdiskInsideTheViewAndBlkrrpart) {
  if (!Have("sfdisk")) GTEST_SKIP() << "sfdisk (Debian package fdisk) is not installed";
  std::string img = MakeImage("blank.img", 16, "");
  RunResult r = Sh({"disk=/dev/umdb:image=" + img},
                   "ls /dev/umdb*; printf 'label: gpt\\nsize=2M\\nsize=3M\\n' | "
                   "sfdisk -q /dev/umdb; ls /dev/umdb*; blockdev --getsize64 /dev/umdb2; "
                   "blockdev --rereadpt /dev/umdb && echo reread");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/umdb\n/dev/umdb\n/dev/umdb1\n/dev/umdb2\n3145728\nreread\n");
}

TEST_F(UmDev, ReadOnlyDiskRefusesWritesWithErofs) {
  if (!Have("sfdisk")) GTEST_SKIP() << "sfdisk (Debian package fdisk) is not installed";
  std::string img = MakeImage("disk.img", 8, "label: gpt\nsize=2M\n");
  std::string before = ReadFile(img);
  RunResult r = Sh({"disk=/dev/umda:image=" + img + ":ro"},
                   "echo x > /dev/umda1; dd if=/dev/umda1 bs=1k count=1 status=none | wc -c; "
                   "blockdev --getro /dev/umda /dev/umda1; python3 -c \"import os\n"
                   "try: os.open('/dev/umda', os.O_RDWR)\n"
                   "except OSError as e: print(e.strerror)\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "1024\n1\n1\nRead-only file system\n");
  EXPECT_EQ(ReadFile(img), before);
}

TEST_F(UmDev, FileBackedCharAndBlockDevices) {
  WriteFile(dir_ / "back", std::string(4096, 'a'));
  RunResult r = Sh({"file=/dev/umf:path=" + (dir_ / "back") + ":char",
                    "file=/dev/umfb:path=" + (dir_ / "back") + ":mode=600"},
                   "stat -c '%F %t:%T %a' /dev/umf /dev/umfb; head -c 3 /dev/umf; echo; "
                   "printf XY | dd of=/dev/umfb bs=1 seek=10 conv=notrunc status=none; "
                   "blockdev --getsize64 /dev/umfb");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "character special file f0:0 660\nblock special file f0:0 600\naaa\n4096\n");
  EXPECT_EQ(ReadFile(dir_ / "back").substr(8, 6), "aaXYaa");
}

// A process that never opens a device does not stop on read/write: no "read" row in the stop
// counts; one that reads a device does.
TEST_F(UmDev, NoExtraStopsWithoutAVirtualDescriptor) {
  RunResult plain = Sh({"null=/dev/umnull"}, "cat /etc/hostname >/dev/null; ls /dev >/dev/null",
                       /*stats=*/true);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("\nread "), std::string::npos) << plain.err;
  EXPECT_EQ(plain.err.find("\nwrite "), std::string::npos) << plain.err;

  RunResult holder = Sh({"zero=/dev/umzero"}, "head -c 1 /dev/umzero >/dev/null", true);
  ASSERT_EQ(holder.exit_code, 0) << holder.err;
  EXPECT_NE(holder.err.find("\nread "), std::string::npos) << holder.err;
}

TEST_F(UmDev, BadOptionsExitWithOneLine) {
  std::string img = dir_ / "img";
  WriteFile(img, std::string(4096, 0));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no device given"},
      {"bogus=/dev/x", "unknown option 'bogus'"},
      {"null=dev/x", "expected null=/ABSOLUTE/PATH"},
      {"ramdisk=/dev/x", "ramdisk=/dev/x: size=N is required"},
      {"ramdisk=/dev/x:size=12Q", "size=12Q is not a positive multiple of 512"},
      {"ramdisk=/dev/x:size=1000", "size=1000 is not a positive multiple of 512"},
      {"ramdisk=/dev/x:size=1M:ro", "unknown or misplaced option 'ro'"},
      {"disk=/dev/x", "image=FILE is required"},
      {"disk=/dev/x:image=/nonexistent/img", "image=/nonexistent/img: No such file or directory"},
      {"file=/dev/x:path=" + img + ":mode=999", "mode=999 is not 0-0777"},
      {"null=/dev/x,zero=/dev/x", "zero=/dev/x: the path is already a device"},
  };
  for (const auto& [opts, message] : cases) {
    std::string p = PluginPath("umdev") + (opts.empty() ? "" : "," + opts);
    RunResult r = RunUmview({"-p", p, "--", "true"});
    EXPECT_EQ(r.exit_code, 2) << opts;
    EXPECT_NE(r.err.find(message), std::string::npos) << opts << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << opts << ": " << r.err;
  }
}

// From a view file: a list of devices of one kind arrives as KIND=ITEM+ITEM and makes several.
TEST_F(UmDev, DevicesFromAYamlView) {
  std::string views = dir_ / "cfg/umview/views";
  ASSERT_EQ(test::Run({"mkdir", "-p", views}).exit_code, 0);
  WriteFile(views + "/devs.yaml",
            "version: 1\nplugins:\n  - name: " + PluginPath("umdev") +
                "\n    options:\n      null: /dev/umnull\n"
                "      ramdisk: [\"/dev/umr0:size=1M\", \"/dev/umr1:size=2M:mode=600\"]\n");
  RunOptions o;
  o.extra_env = env_;
  o.extra_env.push_back("XDG_CONFIG_HOME=" + (dir_ / "cfg"));
  RunResult r = RunUmview({"--view", "devs", "--", "sh", "-c",
                           "stat -c '%n %t:%T %a' /dev/umnull /dev/umr0 /dev/umr1; "
                           "blockdev --getsize64 /dev/umr0 /dev/umr1"},
                          o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "/dev/umnull f0:0 666\n/dev/umr0 f0:0 660\n/dev/umr1 f0:100 600\n1048576\n"
            "2097152\n");
}

// A device kind from another plugin, written against umview/device.h alone: stat, listing,
// reads with bounds, the generic block ioctls and its own ioctl all work.
TEST_F(UmDev, ThirdPartyDeviceKindThroughDeviceH) {
  std::string p = TestPluginPath("pattern_dev") + ",path=/dev/umpat,size=100";
  std::string py =
      "import os, fcntl, struct\n"
      "fd = os.open('/dev/umpat', os.O_RDONLY)\n"
      "os.lseek(fd, 95, 0)\n"
      "print(os.read(fd, 10).decode(), os.read(fd, 10))\n"
      "b = bytearray(8); fcntl.ioctl(fd, 0x80081272, b); print(struct.unpack('Q', b)[0])\n"
      "b = bytearray(8); fcntl.ioctl(fd, 0x7602, b); print(struct.unpack('Q', b)[0])\n"
      "try: os.open('/dev/umpat', os.O_RDWR)\n"
      "except OSError as e: print(e.strerror)\n";
  RunOptions o;
  o.extra_env = env_;
  RunResult r = RunUmview({"-p", p, "--", "bash", "-c",
                           "stat -c '%F %t:%T %a' /dev/umpat; ls /dev | grep umpat; "
                           "python3 -c \"$0\"",
                           py},
                          o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "block special file f1:3 440\numpat\nrstuv b''\n100\n1\n"
            "Permission denied\n");
}

}  // namespace
}  // namespace umview::test
