// Tracee memory access on a real child process: bulk and batched transfers, string mode at the
// end of a mapping, and writes to pages the child cannot write.
#include "core/tracee_memory.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace umview {
namespace {

constexpr size_t kPage = 4096;

// A child with: page A (rw, "hello" at 0), a string whose NUL is the last byte of page B
// followed by an unmapped page, page C without any NUL followed by a hole, and a read-only page
// R. It reports the addresses, then waits for a byte and prints R's first bytes to the pipe.
class Child {
 public:
  Child() {
    int to_parent[2], to_child[2];
    EXPECT_EQ(pipe(to_parent), 0);
    EXPECT_EQ(pipe(to_child), 0);
    pid_ = fork();
    if (pid_ == 0) {
      char* a = static_cast<char*>(
          mmap(nullptr, 6 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      strcpy(a, "hello");
      char* b = a + 2 * kPage;  // pages 2 and 4 are holes
      munmap(a + 3 * kPage, kPage);
      munmap(a + 5 * kPage, kPage);
      memset(b, 'x', kPage);
      b[kPage - 1] = 0;  // string "xxx...x" ends on the last byte before the hole
      char* c = a + 4 * kPage;
      memset(c, 'y', kPage);  // no NUL before the hole
      char* r = a + kPage;
      strcpy(r, "readonly");
      mprotect(r, kPage, PROT_READ);
      uint64_t addrs[4] = {reinterpret_cast<uint64_t>(a), reinterpret_cast<uint64_t>(b),
                           reinterpret_cast<uint64_t>(c), reinterpret_cast<uint64_t>(r)};
      (void)!write(to_parent[1], addrs, sizeof addrs);
      char go;
      (void)!read(to_child[0], &go, 1);
      (void)!write(to_parent[1], r, 16);
      _exit(0);
    }
    close(to_parent[1]);
    close(to_child[0]);
    from_child_ = to_parent[0];
    to_child_ = to_child[1];
    EXPECT_EQ(read(from_child_, addrs_, sizeof addrs_), static_cast<ssize_t>(sizeof addrs_));
  }
  ~Child() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    close(from_child_);
    close(to_child_);
  }
  std::string Finish() {
    (void)!write(to_child_, "g", 1);
    char buf[17] = {};
    EXPECT_EQ(read(from_child_, buf, 16), 16);
    return buf;
  }
  pid_t pid() const { return pid_; }
  uint64_t a() const { return addrs_[0]; }
  uint64_t b() const { return addrs_[1]; }
  uint64_t c() const { return addrs_[2]; }
  uint64_t r() const { return addrs_[3]; }

 private:
  pid_t pid_ = -1;
  int from_child_ = -1, to_child_ = -1;
  uint64_t addrs_[4] = {};
};

TEST(TraceeMemory, ReadAndWrite) {
  Child child;
  TraceeMemory mem(child.pid());
  char buf[6] = {};
  ASSERT_EQ(mem.Read(child.a(), buf, 6), 0);
  EXPECT_STREQ(buf, "hello");
  ASSERT_EQ(mem.Write(child.a(), "HELLO", 5), 0);
  ASSERT_EQ(mem.Read(child.a(), buf, 5), 0);
  EXPECT_STREQ(buf, "HELLO");
  // A range that runs into the hole fails as a whole.
  char big[2 * kPage];
  EXPECT_EQ(mem.Read(child.b(), big, sizeof big), -EFAULT);
}

TEST(TraceeMemory, StringEndingOnTheLastByteBeforeAHole) {
  Child child;
  TraceeMemory mem(child.pid());
  std::string s;
  ASSERT_EQ(mem.ReadString(child.b(), &s, 8192), static_cast<int64_t>(kPage - 1));
  EXPECT_EQ(s, std::string(kPage - 1, 'x'));
  // Starting in the middle of the page, too.
  ASSERT_EQ(mem.ReadString(child.b() + kPage - 3, &s, 8192), 2);
  EXPECT_EQ(s, "xx");
}

TEST(TraceeMemory, StringWithoutNulIsEfaultOrTooLong) {
  Child child;
  TraceeMemory mem(child.pid());
  std::string s;
  EXPECT_EQ(mem.ReadString(child.c(), &s, 8192), -EFAULT);
  EXPECT_EQ(mem.ReadString(child.c(), &s, 100), -ENAMETOOLONG);
}

TEST(TraceeMemory, WriteToReadOnlyPageGoesThroughProcMem) {
  Child child;
  TraceeMemory mem(child.pid());
  ASSERT_EQ(mem.Write(child.r(), "patched!", 8), 0);
  EXPECT_EQ(child.Finish(), "patched!");
}

TEST(TraceeMemory, BatchedTransfers) {
  Child child;
  TraceeMemory mem(child.pid());
  char x[3] = {}, y[3] = {}, r[9] = {};
  Transfer t[3] = {{child.a(), x, 2}, {child.b(), y, 2}, {child.r(), r, 8}};
  ASSERT_EQ(mem.ReadMulti(t, 3), 0);
  EXPECT_STREQ(x, "he");
  EXPECT_STREQ(y, "xx");
  EXPECT_STREQ(r, "readonly");
  Transfer w[2] = {{child.a(), const_cast<char*>("AB"), 2},
                   {child.r(), const_cast<char*>("RO"), 2}};
  ASSERT_EQ(mem.WriteMulti(w, 2), 0);  // the read-only page falls back per transfer
  ASSERT_EQ(mem.Read(child.a(), x, 2), 0);
  EXPECT_STREQ(x, "AB");
  Transfer bad[2] = {{child.a(), x, 2}, {child.c() + kPage - 1, y, 2}};
  EXPECT_EQ(mem.ReadMulti(bad, 2), -EFAULT);
  EXPECT_EQ(child.Finish().substr(0, 8), "ROadonly");
}

}  // namespace
}  // namespace umview
