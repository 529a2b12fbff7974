// The notification prefilter's decision (PrefilterOutside) on this very process: the same
// reads of memory and /proc it makes for a tracee, against the rules kmview's module applies.
#include "core/notify_prefilter.h"

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "tests/support/run.h"

namespace umview {
namespace {

class PrefilterDecision : public ::testing::Test {
 protected:
  void SetUp() override {
    char real[4096];
    ASSERT_NE(realpath(t_.path().c_str(), real), nullptr);
    top_ = real;  // as /proc's links name it
    inside_ = top_ + "/mnt";
    ASSERT_EQ(mkdir(inside_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((top_ + "/other").c_str(), 0755), 0);
    rules_.active = true;
    rules_.prefixes = {"/proc", inside_};
    rules_.fd_calls.set(SYS_getdents64);
    rules_.fd_calls.set(SYS_getcwd);
    ASSERT_NE(getcwd(cwd_, sizeof cwd_), nullptr);
  }
  void TearDown() override { ASSERT_EQ(chdir(cwd_), 0); }

  // newfstatat(dirfd, path, ...) of this process: may it run unseen?
  bool Stat(int dirfd, const char* path) const {
    uint64_t args[6] = {static_cast<uint64_t>(static_cast<int64_t>(dirfd)),
                        reinterpret_cast<uint64_t>(path),
                        0,
                        0,
                        0,
                        0};
    return PrefilterOutside(rules_, getpid(), SYS_newfstatat, args);
  }
  // execve(path, ...) of this process.
  bool Exec(const std::string& path) const {
    uint64_t args[6] = {reinterpret_cast<uint64_t>(path.c_str()), 0, 0, 0, 0, 0};
    return PrefilterOutside(rules_, getpid(), SYS_execve, args);
  }
  // A file of `mode` at top_/name holding `data`; its path.
  std::string Make(const std::string& name, const std::string& data, mode_t mode = 0755) const {
    std::string path = top_ + "/" + name;
    test::WriteFile(path, data);
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  // A minimal 64-bit ELF header and program header table; with PT_INTERP `interp` if not empty.
  static std::string Elf(const std::string& interp, unsigned char cls = ELFCLASS64,
                         uint64_t phoff = sizeof(Elf64_Ehdr), uint64_t interp_at = 0) {
    Elf64_Ehdr eh = {};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = cls;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = phoff;
    eh.e_ehsize = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 2;
    Elf64_Phdr ph[2] = {};
    ph[0].p_type = PT_LOAD;
    ph[1].p_type = interp.empty() ? PT_NOTE : PT_INTERP;
    ph[1].p_offset = interp_at ? interp_at : sizeof eh + sizeof ph;
    ph[1].p_filesz = interp.size() + 1;
    std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
    out.append(reinterpret_cast<const char*>(ph), sizeof ph);
    out.append(interp.c_str(), interp.size() + 1);
    return out;
  }
  std::string PlainBind();
  bool OnFd(long nr, int fd) const {
    uint64_t args[6] = {static_cast<uint64_t>(fd), 0, 0, 0, 0, 0};
    return PrefilterOutside(rules_, getpid(), nr, args);
  }

  test::TempDir t_;
  std::string top_, inside_;
  PrefilterRules rules_;
  char cwd_[4096];
};

TEST_F(PrefilterDecision, AbsolutePathsAreComparedLexically) {
  EXPECT_TRUE(Stat(AT_FDCWD, "/etc/passwd"));
  EXPECT_FALSE(Stat(AT_FDCWD, inside_.c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (inside_ + "/deeper/file").c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (inside_ + "//./x/").c_str()));  // normalized first
  EXPECT_TRUE(Stat(AT_FDCWD, (inside_ + "2").c_str()));        // a sibling, not under it
  EXPECT_FALSE(Stat(AT_FDCWD, "/proc/self/exe"));
}

TEST_F(PrefilterDecision, DotDotIsLexicalOnlyOutsideTheMounts) {
  EXPECT_TRUE(Stat(AT_FDCWD, "/etc/../etc/passwd"));
  EXPECT_TRUE(Stat(AT_FDCWD, "/usr/lib/../../../etc/passwd"));       // above "/" stays "/"
  EXPECT_FALSE(Stat(AT_FDCWD, (top_ + "/other/../mnt/x").c_str()));  // lands inside
  // Leaving a mount's directory reaches the view's parent: for the plugins to say.
  EXPECT_FALSE(Stat(AT_FDCWD, (inside_ + "/../other/f").c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (inside_ + "/sub/../../other/f").c_str()));
  ASSERT_EQ(chdir(inside_.c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, "../other/f"));
  ASSERT_EQ(chdir((top_ + "/other").c_str()), 0);
  EXPECT_TRUE(Stat(AT_FDCWD, "../other/f"));
  EXPECT_FALSE(Stat(AT_FDCWD, "../mnt/f"));
}

// The host's walk must stay outside too: a symlink outside that leads into a mount, directly,
// through a chain or by ".." after it, makes the call the plugins'; one that stays outside
// does not. Names not followed are not looked at.
TEST_F(PrefilterDecision, SymlinksOnTheWayAreFollowedOnTheHost) {
  const std::string o = top_ + "/other";
  ASSERT_EQ(symlink(inside_.c_str(), (o + "/in").c_str()), 0);
  ASSERT_EQ(symlink("in", (o + "/chain").c_str()), 0);
  ASSERT_EQ(symlink((top_ + "/mnt/x").c_str(), (o + "/deep").c_str()), 0);
  ASSERT_EQ(symlink("/etc", (o + "/etc").c_str()), 0);
  ASSERT_EQ(symlink("..", (o + "/up").c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, (o + "/in").c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (o + "/chain/f").c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (o + "/deep/../y").c_str()));  // walks through the mount
  EXPECT_FALSE(Stat(AT_FDCWD, (o + "/up/mnt/f").c_str()));
  EXPECT_TRUE(Stat(AT_FDCWD, (o + "/etc/passwd").c_str()));
  EXPECT_TRUE(Stat(AT_FDCWD, (o + "/up/other/etc/passwd").c_str()));
  EXPECT_TRUE(Stat(AT_FDCWD, (o + "/missing/in").c_str()));  // the walk ends before
  ASSERT_EQ(chdir(o.c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, "chain"));
  EXPECT_TRUE(Stat(AT_FDCWD, "etc/passwd"));
  // lstat: the last name is not followed.
  uint64_t args[6] = {static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD)),
                      reinterpret_cast<uint64_t>("chain"),
                      0,
                      AT_SYMLINK_NOFOLLOW,
                      0,
                      0};
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  const std::string deep = o + "/chain";
  args[1] = reinterpret_cast<uint64_t>(deep.c_str());
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  const std::string through = o + "/chain/f";
  args[1] = reinterpret_cast<uint64_t>(through.c_str());
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  // execve of a program through a link into a mount.
  EXPECT_FALSE(Exec(o + "/chain/prog"));
}

TEST_F(PrefilterDecision, RelativePathsJoinTheCwdOrDirectoryDescriptor) {
  ASSERT_EQ(chdir(top_.c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, "mnt/file"));
  EXPECT_TRUE(Stat(AT_FDCWD, "other/file"));
  ASSERT_EQ(chdir(inside_.c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, "file"));
  int in = open(inside_.c_str(), O_RDONLY | O_DIRECTORY);
  int out = open((top_ + "/other").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(in, 0);
  ASSERT_GE(out, 0);
  EXPECT_FALSE(Stat(in, "file"));
  EXPECT_TRUE(Stat(out, "file"));
  EXPECT_TRUE(Stat(out, ""));  // AT_EMPTY_PATH: the directory itself
  EXPECT_FALSE(Stat(in, ""));
  EXPECT_FALSE(Stat(987, "file"));  // not open: undecided
  // utimensat(fd, NULL): futimens, the descriptor's own file.
  uint64_t args[6] = {static_cast<uint64_t>(out), 0, 0, 0, 0, 0};
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_utimensat, args));
  args[0] = static_cast<uint64_t>(in);
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_utimensat, args));
  close(in);
  close(out);
}

TEST_F(PrefilterDecision, PipesAndRemovedFilesAreNeverDecidedByPath) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_FALSE(Stat(p[0], ""));  // a virtual descriptor is a pipe
  EXPECT_FALSE(OnFd(SYS_getdents64, p[0]));
  close(p[0]);
  close(p[1]);
  const std::string gone = top_ + "/other/gone";
  int fd = open(gone.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(Stat(fd, ""));
  ASSERT_EQ(unlink(gone.c_str()), 0);
  EXPECT_FALSE(Stat(fd, ""));  // "... (deleted)"
  close(fd);
}

TEST_F(PrefilterDecision, ListingsAboveAMountAndTheCwdInsideOneAreSeen) {
  int top = open(top_.c_str(), O_RDONLY | O_DIRECTORY);  // above the mount: shows it
  int out = open((top_ + "/other").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(top, 0);
  ASSERT_GE(out, 0);
  EXPECT_FALSE(OnFd(SYS_getdents64, top));
  EXPECT_TRUE(OnFd(SYS_getdents64, out));
  close(top);
  close(out);
  ASSERT_EQ(chdir(inside_.c_str()), 0);
  EXPECT_FALSE(OnFd(SYS_getcwd, -1));
  ASSERT_EQ(chdir(top_.c_str()), 0);
  EXPECT_TRUE(OnFd(SYS_getcwd, -1));  // the cwd above a mount: getcwd is not concerned
}

// A plain bind: top_/src = {sub/f, abs -> /etc, up -> .., near -> sub/f} shown at inside_.
std::string PrefilterDecision::PlainBind() {
  const std::string src = top_ + "/src";
  EXPECT_EQ(mkdir(src.c_str(), 0755), 0);
  EXPECT_EQ(mkdir((src + "/sub").c_str(), 0755), 0);
  test::WriteFile(src + "/sub/f", "f");
  EXPECT_EQ(symlink("/etc", (src + "/abs").c_str()), 0);
  EXPECT_EQ(symlink("..", (src + "/up").c_str()), 0);
  EXPECT_EQ(symlink("sub/f", (src + "/near").c_str()), 0);
  rules_.prefixes = {"/proc", inside_, src};
  rules_.binds = {{inside_, src}};
  return src;
}

// A relative path that starts in a directory the view
// shows as the host does and stays below it on the host runs unseen; one that leaves it (".."
// above it, a symlink out), a directory with a mount below, getcwd there and renames are seen.
TEST_F(PrefilterDecision, RelativePathsBelowABindsHostPathRunWhereTheHostAgrees) {
  const std::string src = PlainBind();
  rules_.mounts = {"/proc"};
  ASSERT_EQ(chdir(src.c_str()), 0);
  EXPECT_TRUE(Stat(AT_FDCWD, "sub/f"));
  EXPECT_TRUE(Stat(AT_FDCWD, "missing/f"));  // missing in the view at the same place
  EXPECT_TRUE(Stat(AT_FDCWD, "near"));
  EXPECT_TRUE(Stat(AT_FDCWD, "sub/../sub/f"));
  EXPECT_FALSE(Stat(AT_FDCWD, "abs"));  // absolute: the view resolves it itself
  EXPECT_FALSE(Stat(AT_FDCWD, "abs/passwd"));
  EXPECT_FALSE(Stat(AT_FDCWD, "up/other"));                // leaves the directory
  EXPECT_FALSE(Stat(AT_FDCWD, "../src/sub/f"));            // the view's ".." is inside_'s parent
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/sub/f").c_str()));  // absolute paths as before
  // The last name of a call that does not follow it is not followed here either.
  uint64_t args[6] = {static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD)),
                      reinterpret_cast<uint64_t>("abs"),
                      0,
                      AT_SYMLINK_NOFOLLOW,
                      0,
                      0};
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  args[1] = reinterpret_cast<uint64_t>("..");  // not followed, yet it leaves the directory
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  args[1] = reinterpret_cast<uint64_t>("missing");
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_newfstatat, args));
  args[0] = reinterpret_cast<uint64_t>("abs");
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_lstat, args));
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_stat, args));
  // Renames stay seen (viewfs keeps directories' host paths).
  uint64_t ren[6] = {reinterpret_cast<uint64_t>("sub/f"), reinterpret_cast<uint64_t>("sub/g")};
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_rename, ren));
  // Descriptors: the listing of a directory below the bind's host path is the host's; getcwd
  // there is the view's path.
  int sub = open((src + "/sub").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(sub, 0);
  EXPECT_TRUE(OnFd(SYS_getdents64, sub));
  EXPECT_TRUE(Stat(sub, "f"));
  EXPECT_TRUE(Stat(sub, ""));
  EXPECT_FALSE(Stat(sub, "../abs"));
  EXPECT_FALSE(OnFd(SYS_getcwd, -1));
  // A mount below the bind's view: the view no longer mirrors the host there.
  rules_.mounts.push_back(inside_ + "/sub/deeper");
  EXPECT_FALSE(Stat(AT_FDCWD, "sub/f"));
  EXPECT_FALSE(OnFd(SYS_getdents64, sub));
  EXPECT_FALSE(Stat(sub, "f"));
  // The same host directory shown by two binds that disagree: only the plugin can tell.
  rules_.mounts = {"/proc"};
  rules_.binds.push_back({inside_, top_ + "/other"});
  EXPECT_FALSE(Stat(AT_FDCWD, "sub/f"));
  // Without binds declared, everything under the host path is seen as before.
  rules_.binds.clear();
  EXPECT_FALSE(Stat(AT_FDCWD, "sub/f"));
  EXPECT_FALSE(OnFd(SYS_getdents64, sub));
  close(sub);
}

// A plain bind's host path named by an absolute path is the host's file in the view too (only a
// cwd or descriptor there stands for the bind's view path): such calls run unseen, and so does
// a symlink outside that leads there. Where the host path is also another mount's view path,
// or under one, it stays seen; relative paths and descriptors are decided as before.
TEST_F(PrefilterDecision, AbsolutePathsBelowABindsHostPathRunUnseen) {
  const std::string src = PlainBind();
  rules_.mounts = {"/proc"};
  ASSERT_EQ(symlink((src + "/sub").c_str(), (top_ + "/other/to-src").c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/sub/f").c_str()));  // before PreparePrefilterBinds
  PreparePrefilterBinds(&rules_);
  EXPECT_TRUE(Stat(AT_FDCWD, (src + "/sub/f").c_str()));
  EXPECT_TRUE(Stat(AT_FDCWD, src.c_str()));
  EXPECT_TRUE(Stat(AT_FDCWD, (top_ + "/other/to-src/f").c_str()));
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/sub/../sub/f").c_str()));  // ".." in it: the plugins'
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/up/mnt/x").c_str()));      // a link into the view path
  EXPECT_FALSE(Stat(AT_FDCWD, (inside_ + "/sub/f").c_str()));     // the view path itself
  ASSERT_EQ(chdir(src.c_str()), 0);
  EXPECT_FALSE(Stat(AT_FDCWD, "abs"));    // relative: as before
  EXPECT_FALSE(OnFd(SYS_getcwd, -1));     // the cwd there is the view's path
  rules_.mounts.push_back(src + "/sub");  // another mount at a path below it
  rules_.prefixes.push_back(src + "/sub");
  PreparePrefilterBinds(&rules_);
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/sub/f").c_str()));
  rules_.mounts = {"/proc"};
  rules_.prefixes.pop_back();
  rules_.prefixes.push_back(src);  // the same path as another bind's view
  rules_.binds.push_back({src, top_ + "/other"});
  PreparePrefilterBinds(&rules_);
  EXPECT_FALSE(Stat(AT_FDCWD, (src + "/sub/f").c_str()));
}

// Reads of attributes at an absolute path inside a plain bind are answered by the prefilter on
// the host path, results in the caller's memory; where the view's walk may differ (a symlink
// out, a mount below), or for other calls, they are left to the plugins.
TEST_F(PrefilterDecision, AttributeReadsInsideAPlainBindAreAnsweredOnTheHostPath) {
  const std::string src = PlainBind();
  rules_.mounts = {"/proc"};
  PreparePrefilterBinds(&rules_);
  auto answer = [&](long nr, std::initializer_list<uint64_t> a, int64_t* result) {
    uint64_t args[6] = {};
    std::copy(a.begin(), a.end(), args);
    return PrefilterAnswer(rules_, -1, 0, getpid(), nr, args, result);
  };
  auto ptr = [](const void* p) { return reinterpret_cast<uint64_t>(p); };
  const std::string f = inside_ + "/sub/f", abs = inside_ + "/abs", near = inside_ + "/near";
  struct stat st = {}, host = {};
  int64_t r = 1;
  ASSERT_TRUE(answer(SYS_stat, {ptr(f.c_str()), ptr(&st)}, &r));
  ASSERT_EQ(stat((src + "/sub/f").c_str(), &host), 0);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(st.st_ino, host.st_ino);
  EXPECT_EQ(st.st_size, 1);
  const uint64_t at_fdcwd = static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD));
  struct statx stx = {};
  ASSERT_TRUE(answer(SYS_statx, {at_fdcwd, ptr(near.c_str()), 0, STATX_INO, ptr(&stx)}, &r));
  EXPECT_EQ(r, 0);
  EXPECT_EQ(stx.stx_ino, host.st_ino);  // followed, below the bind
  char buf[64] = {};
  ASSERT_TRUE(answer(SYS_readlink, {ptr(near.c_str()), ptr(buf), sizeof buf}, &r));
  EXPECT_EQ(r, 5);
  EXPECT_EQ(std::string(buf, 5), "sub/f");
  ASSERT_TRUE(answer(SYS_readlink, {ptr(abs.c_str()), ptr(buf), sizeof buf}, &r));  // not followed
  EXPECT_EQ(std::string(buf, static_cast<size_t>(r)), "/etc");
  const std::string missing = inside_ + "/no/such";
  ASSERT_TRUE(answer(SYS_access, {ptr(missing.c_str()), F_OK}, &r));
  EXPECT_EQ(r, -ENOENT);
  ASSERT_TRUE(answer(SYS_lgetxattr, {ptr(f.c_str()), ptr("user.none"), ptr(buf), sizeof buf}, &r));
  EXPECT_TRUE(r == -ENODATA || r == -EOPNOTSUPP) << r;
  ASSERT_TRUE(answer(SYS_stat, {ptr(f.c_str()), 8}, &r));  // a bad buffer, as the kernel says
  EXPECT_EQ(r, -EFAULT);
  // getcwd below the bind's host path: the view's path.
  ASSERT_EQ(chdir((src + "/sub").c_str()), 0);
  ASSERT_TRUE(answer(SYS_getcwd, {ptr(buf), sizeof buf}, &r));
  EXPECT_EQ(r, static_cast<int64_t>(inside_.size() + 5));
  EXPECT_EQ(std::string(buf), inside_ + "/sub");
  ASSERT_TRUE(answer(SYS_getcwd, {ptr(buf), 4}, &r));
  EXPECT_EQ(r, -ERANGE);
  ASSERT_EQ(chdir(top_.c_str()), 0);
  EXPECT_FALSE(answer(SYS_getcwd, {ptr(buf), sizeof buf}, &r));  // not under a bind
  // The view resolves an absolute symlink itself; "..", trailing "/", other calls: the plugins.
  EXPECT_FALSE(answer(SYS_stat, {ptr(abs.c_str()), ptr(&st)}, &r));
  EXPECT_FALSE(answer(SYS_stat, {ptr((inside_ + "/sub/../sub/f").c_str()), ptr(&st)}, &r));
  EXPECT_FALSE(answer(SYS_stat, {ptr((inside_ + "/sub/").c_str()), ptr(&st)}, &r));
  EXPECT_FALSE(answer(SYS_stat, {ptr((f + "/.").c_str()), ptr(&st)}, &r));  // ENOTDIR: viewfs's
  EXPECT_FALSE(answer(SYS_unlink, {ptr(f.c_str())}, &r));
  EXPECT_FALSE(answer(SYS_stat, {ptr((top_ + "/other").c_str()), ptr(&st)}, &r));  // no bind
  // A mount below the bind, or a bind whose host path is a symlink: the view's walk may differ.
  rules_.mounts.push_back(inside_ + "/sub/deeper");
  PreparePrefilterBinds(&rules_);
  EXPECT_FALSE(answer(SYS_stat, {ptr(f.c_str()), ptr(&st)}, &r));
  rules_.mounts = {"/proc"};
  ASSERT_EQ(symlink(src.c_str(), (top_ + "/src-link").c_str()), 0);
  rules_.binds = {{inside_, top_ + "/src-link"}};
  PreparePrefilterBinds(&rules_);
  EXPECT_FALSE(answer(SYS_stat, {ptr(f.c_str()), ptr(&st)}, &r));
}

TEST_F(PrefilterDecision, WithoutRulesOrForOtherCallsEverythingIsSeen) {
  EXPECT_FALSE(OnFd(SYS_read, 0));
  EXPECT_FALSE(OnFd(SYS_fchdir, 0));
  rules_.active = false;
  EXPECT_FALSE(Stat(AT_FDCWD, "/etc/passwd"));
  // Two paths: both must lie outside (rename into the mount is seen).
  rules_.active = true;
  const std::string to = inside_ + "/x";
  uint64_t args[6] = {reinterpret_cast<uint64_t>("/etc/a"), reinterpret_cast<uint64_t>(to.c_str())};
  EXPECT_FALSE(PrefilterOutside(rules_, getpid(), SYS_rename, args));
  args[1] = reinterpret_cast<uint64_t>("/etc/b");
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_rename, args));
  // symlink's target is only text.
  args[0] = reinterpret_cast<uint64_t>(to.c_str());
  EXPECT_TRUE(PrefilterOutside(rules_, getpid(), SYS_symlink, args));
}

TEST_F(PrefilterDecision, ExecveIsDecidedByTheProgramAndItsInterpreters) {
  rules_.exec = true;
  const std::string loader = "/lib64/ld-linux-x86-64.so.2";
  EXPECT_TRUE(Exec("/bin/true"));                      // the host's loader, outside
  EXPECT_TRUE(Exec(top_ + "/other/no-such-program"));  // fails natively, as in the view
  EXPECT_FALSE(Exec(inside_ + "/prog"));               // the program inside a mount
  EXPECT_TRUE(Exec(Make("static", Elf(""))));
  EXPECT_TRUE(Exec(Make("dynamic", Elf(loader))));
  EXPECT_FALSE(Exec(Make("loader-inside", Elf(inside_ + "/ld.so"))));
  EXPECT_FALSE(Exec(Make("loader-relative", Elf("ld.so"))));
  EXPECT_FALSE(Exec(Make("elf32", Elf(loader, ELFCLASS32))));
  EXPECT_FALSE(Exec(Make("unknown", "MZ\x90\0 not a format umview reads\n")));
  // Offsets a hostile file sets so that an unchecked sum wraps around: never read out of bounds.
  EXPECT_FALSE(Exec(Make("huge-phoff", Elf(loader, ELFCLASS64, ~0ULL - 16))));
  EXPECT_FALSE(Exec(Make("huge-interp", Elf(loader, ELFCLASS64, sizeof(Elf64_Ehdr), ~0ULL - 8))));
  // Scripts: the "#!" interpreter, blanks and an argument included, and chains of them.
  EXPECT_TRUE(Exec(Make("script", "#! /bin/sh -e\necho\n")));
  EXPECT_FALSE(Exec(Make("script-inside", "#!" + inside_ + "/sh\n")));
  EXPECT_FALSE(Exec(Make("script-relative", "#!sh\n")));
  const std::string chained = Make("chained", "#!" + top_ + "/script-inside arg\n");
  EXPECT_FALSE(Exec(chained));
  EXPECT_TRUE(Exec(Make("chained-ok", "#!" + top_ + "/script\n")));
  EXPECT_FALSE(Exec(Make("no-newline", "#!/bin/sh" + std::string(300, ' '))));
  // What umview cannot read is for the plugins: an unreadable file, a directory, a device.
  const std::string unreadable = Make("unreadable", "#!/bin/sh\n", 0111);
  if (geteuid() != 0) {  // root reads it
    EXPECT_FALSE(Exec(unreadable));
  }
  EXPECT_FALSE(Exec(top_ + "/other"));
  EXPECT_FALSE(Exec("/dev/null"));
  // The loader as the host resolves it: a view that binds the directory it lives in.
  char real[PATH_MAX];
  ASSERT_NE(realpath(loader.c_str(), real), nullptr);
  std::string dir(real);
  rules_.prefixes.push_back(dir.substr(0, dir.rfind('/')));
  EXPECT_FALSE(Exec(Make("dynamic2", Elf(loader))));
  EXPECT_FALSE(Exec("/bin/true"));
  // Without the plugins' agreement every execve is theirs.
  rules_.prefixes.pop_back();
  rules_.exec = false;
  EXPECT_FALSE(Exec("/bin/true"));
}

}  // namespace
}  // namespace umview
