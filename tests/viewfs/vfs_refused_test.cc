// viewfs refuses what would escape the view: mount, umount2, pivot_root and chroot (EPERM,
// never a host mount even for root), open_by_handle_at (EPERM: handles skip path resolution)
// and io_uring_setup (ENOSYS: its path operations would bypass the view).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/viewfs/viewfs_test_util.h"

namespace umview::test {
namespace {

class VfsRefused : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = t_ / "mnt";
    mkdir(mnt_.c_str(), 0755);
    Put(mnt_ + "/f", "F\n");
  }
  void TearDown() override {
    // If a mount got through (the test then fails), do not leave it on the host.
    umount2(mnt_.c_str(), MNT_DETACH);
  }
  TempDir t_;
  std::string mnt_;
};

TEST_F(VfsRefused, MountUmountPivotRootChroot) {
  const std::string before = ReadFile("/proc/self/mountinfo");
  DoorResults d = RunDoors(Viewfs({"tmp=" + t_ / "scratch"}), {{"mount", mnt_},
                                                               {"umount", "/proc"},
                                                               {"umount", mnt_},
                                                               {"chroot", mnt_},
                                                               {"chroot", "/"},
                                                               {"pivot_root", mnt_, mnt_},
                                                               {"read", mnt_ + "/f"}});
  EXPECT_EQ(d.Of("mount " + mnt_), "EPERM");
  EXPECT_EQ(d.Of("umount /proc"), "EPERM");
  EXPECT_EQ(d.Of("umount " + mnt_), "EPERM");
  EXPECT_EQ(d.Of("chroot " + mnt_), "EPERM");
  EXPECT_EQ(d.Of("chroot /"), "EPERM");
  EXPECT_EQ(d.Of("pivot_root " + mnt_ + " " + mnt_), "EPERM");
  EXPECT_EQ(d.Of("read " + mnt_ + "/f"), "ok F\\n") << "the directory was mounted over";
  EXPECT_EQ(ReadFile("/proc/self/mountinfo"), before);
}

TEST_F(VfsRefused, OpenByHandleAndIoUring) {
  DoorResults d = RunDoors(Viewfs({"hide=" + t_ / "nothing"}),
                           {{"open_by_handle"}, {"io_uring"}, {"handle", mnt_ + "/f", "0"}});
  EXPECT_EQ(d.Of("open_by_handle"), "EPERM");
  EXPECT_EQ(d.Of("io_uring"), "ENOSYS");
  EXPECT_EQ(d.Of("handle " + mnt_ + "/f 0"), "ok") << "name_to_handle_at itself is harmless";
}

TEST_F(VfsRefused, ShellMountCommand) {
  if (test::Run({"sh", "-c", "command -v mount"}).exit_code != 0) GTEST_SKIP() << "no mount(8)";
  RunResult r =
      ShIn(Viewfs({"tmp=" + t_ / "scratch"}),
           "mount -t tmpfs none " + mnt_ + " 2>/dev/null; echo \"mount=$?\"; cat " + mnt_ + "/f");
  EXPECT_EQ(r.out.substr(0, 6), "mount=") << r.err;
  EXPECT_NE(r.out, "mount=0\n") << "mount(8) reported success";
  EXPECT_NE(r.out.find("F\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace umview::test
