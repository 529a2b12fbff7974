// FUSE in a view: unmodified FUSE programs mount inside a view (no kernel mount, no root) and
// the view's programs use the files they serve. memfs (here, libfuse3) exercises every request
// type; squashfuse (libfuse3) and fuse2fs (libfuse2) are the real programs of the issue.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/run.h"

namespace umview::test {
namespace {

bool Have(const std::string& prog) {
  return test::Run({"sh", "-c", "command -v " + prog}).exit_code == 0;
}

std::string Memfs() { return Tracee("memfs"); }

// The host's mount table must never show a view's FUSE mount.
bool HostMounted(const std::string& path) {
  return ReadFile("/proc/self/mountinfo").find(" " + path + " ") != std::string::npos;
}

class Fuse : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = dir_ / "mnt";
    test::Run({"mkdir", "-p", mnt_});
  }
  RunOptions Opts() {
    RunOptions o;
    o.cwd = dir_.path();
    o.timeout_seconds = 100;
    o.extra_env = {"M=" + mnt_, "MEMFS=" + Memfs(), "MEMFS_LOG=" + (dir_ / "ops.log")};
    return o;
  }
  RunResult Sh(const std::string& script) {
    return RunUmview({"-p", "viewfs", "--", "sh", "-c", script}, Opts());
  }
  void NeedMemfs() {
    if (access(Memfs().c_str(), X_OK) != 0) GTEST_SKIP() << "memfs not built (no libfuse3)";
  }
  TempDir dir_;
  std::string mnt_;
};

TEST_F(Fuse, MemfsMountReadListAndUnmountLeavesTheHostUntouched) {
  NeedMemfs();
  RunResult r =
      Sh("$MEMFS $M && cat $M/hello && ls $M && grep -c \" $M \" /proc/self/mountinfo; "
         "umount $M && ls $M | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from memfs\nhello\n0\n0\n");
  EXPECT_FALSE(HostMounted(mnt_));
  EXPECT_EQ(test::Run({"ls", "-A", mnt_}).out, "") << "the host's mount point must stay empty";
}

// Every request type the view's FUSE client sends reaches memfs, and each call observes what
// it should.
TEST_F(Fuse, MemfsEveryRequestType) {
  NeedMemfs();
  if (!Have("python3")) GTEST_SKIP() << "python3 missing";
  std::string py = R"(
import os, sys, stat
m = sys.argv[1]
def p(*a): print(*a, flush=True)
p(open(m + '/hello').read().strip())
with open(m + '/new', 'w') as f: f.write('abc')
with open(m + '/new', 'a') as f: f.write('def')
p(open(m + '/new').read())
fd = os.open(m + '/new', os.O_RDWR); os.pwrite(fd, b'XY', 1); os.fsync(fd)
p(os.pread(fd, 10, 0), os.lseek(fd, 0, os.SEEK_END), os.fstat(fd).st_size); os.close(fd)
os.truncate(m + '/new', 2); p(os.stat(m + '/new').st_size)
os.mkdir(m + '/d', 0o750); p(oct(stat.S_IMODE(os.stat(m + '/d').st_mode)))
os.mknod(m + '/d/fifo', stat.S_IFIFO | 0o600); p(stat.S_ISFIFO(os.lstat(m + '/d/fifo').st_mode))
os.symlink('../new', m + '/d/ln'); p(os.readlink(m + '/d/ln'), open(m + '/d/ln').read())
os.link(m + '/new', m + '/hard'); p(os.stat(m + '/hard').st_nlink)
os.rename(m + '/hard', m + '/hard2'); p(sorted(os.listdir(m)))
import ctypes; libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, (m + '/hard2').encode(), -100, (m + '/new').encode(), 1)
p('noreplace', r, ctypes.get_errno())
os.rename(m + '/hard2', m + '/new'); p('renamed over')
os.chmod(m + '/new', 0o600); os.chown(m + '/new', 123, 456)
st = os.stat(m + '/new'); p(oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid)
os.utime(m + '/new', (1000000000, 1200000000)); p(int(os.stat(m + '/new').st_mtime))
os.setxattr(m + '/new', 'user.k', b'v'); p(os.getxattr(m + '/new', 'user.k'), os.listxattr(m + '/new'))
os.removexattr(m + '/new', 'user.k'); p(os.listxattr(m + '/new'))
p(os.access(m + '/new', os.R_OK), os.access(m + '/nope', os.F_OK))
s = os.statvfs(m); p(s.f_bsize, s.f_blocks, s.f_bfree)
dfd = os.open(m + '/d', os.O_RDONLY | os.O_DIRECTORY)
p(sorted(os.listdir(dfd)), os.stat('ln', dir_fd=dfd, follow_symlinks=False).st_size); os.close(dfd)
os.unlink(m + '/d/fifo'); os.unlink(m + '/d/ln'); os.rmdir(m + '/d')
try: os.rmdir(m + '/new')
except OSError as e: p('rmdir file', e.errno)
p(sorted(os.listdir(m)))
)";
  WriteFile(dir_ / "t.py", py);
  RunResult r = Sh("$MEMFS $M && python3 t.py $M; rc=$?; umount $M; exit $rc");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << ReadFile(dir_ / "ops.log");
  EXPECT_EQ(r.out,
            "hello from memfs\n"
            "abcdef\n"
            "b'aXYdef' 6 6\n"
            "2\n"
            "0o750\n"
            "True\n"
            "../new aX\n"
            "2\n"
            "['d', 'hard2', 'hello', 'new']\n"
            "noreplace -1 17\n"
            "renamed over\n"
            "0o600 123 456\n"
            "1200000000\n"
            "b'v' ['user.k']\n"
            "[]\n"
            "True False\n"
            "4096 1000 500\n"
            "['fifo', 'ln'] 6\n"
            "rmdir file 20\n"
            "['hello', 'new']\n");
  std::set<std::string> ops;
  std::istringstream log(ReadFile(dir_ / "ops.log"));
  for (std::string line; std::getline(log, line);) ops.insert(line);
  for (const char* op :
       {"init",       "getattr",   "open",        "read",   "write",  "flush",   "release",
        "fsync",      "create",    "truncate",    "mkdir",  "mknod",  "symlink", "readlink",
        "link",       "rename",    "rename2",     "chmod",  "chown",  "utimens", "setxattr",
        "getxattr",   "listxattr", "removexattr", "access", "statfs", "opendir", "readdirplus",
        "releasedir", "unlink",    "rmdir",       "destroy"}) {
    EXPECT_TRUE(ops.count(op)) << "memfs never served " << op << "; its log:\n"
                               << ReadFile(dir_ / "ops.log") << r.err;
  }
}

TEST_F(Fuse, DeadProgramMakesCallsFailWithEnotconnAndTheViewGoesOn) {
  NeedMemfs();
  RunResult r = Sh(
      "$MEMFS -f $M & p=$!; until [ -e $M/hello ]; do :; done; cat $M/hello; kill -9 $p; wait $p; "
      "cat $M/hello 2>&1; ls $M 2>&1; echo after > out; cat out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "hello from memfs\n"
            "cat: " +
                mnt_ +
                "/hello: Transport endpoint is not connected\n"
                "ls: cannot access '" +
                mnt_ +
                "': Transport endpoint is not connected\n"
                "after\n");
}

// cd into a FUSE mount: the view keeps the cwd (the kernel cannot), getcwd reports it,
// relative paths of the shell and of its children resolve from it, `cd ..` leaves the mount.
TEST_F(Fuse, ChdirIntoTheMountAndRelativePaths) {
  NeedMemfs();
  RunResult r =
      Sh("$MEMFS $M && mkdir $M/sub && echo in-sub > $M/sub/f && cd $M && ls && cat hello && "
         "cd sub && env pwd && cat f && echo made > g && ls && sh -c 'cat ./g; env pwd' && "
         "cd .. && cat sub/g && env pwd && cd sub/f 2>/dev/null || echo notdir=$?; "
         "cd nosuch 2>/dev/null || echo missing; cd .. && env pwd && ls -d mnt && cd $M && "
         "cd /tmp && env pwd && umount $M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\nsub\nhello from memfs\n" + mnt_ + "/sub\nin-sub\nf\ng\nmade\n" + mnt_ +
                       "/sub\nmade\n" + mnt_ + "\nnotdir=2\nmissing\n" + dir_.path() +
                       "\nmnt\n/tmp\n");
  EXPECT_FALSE(HostMounted(mnt_));
  EXPECT_EQ(test::Run({"ls", "-A", mnt_}).out, "") << "the host's mount point must stay empty";
}

// Threads share the cwd (CLONE_FS): a thread's chdir into the mount is the main thread's cwd
// too, and the main thread's chdir elsewhere in the mount is seen by a new thread.
TEST_F(Fuse, CloneFsThreadsShareAChdirIntoTheMount) {
  NeedMemfs();
  RunResult r = Sh("$MEMFS $M && mkdir $M/sub && echo in-sub > $M/sub/f && " +
                   Tracee("vfs_clonefs") + " $M/sub f $M hello; umount $M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "main cwd=" + mnt_ + "/sub f=in-sub\nthread cwd=" + mnt_ + " hello=hello from memfs\n");
}

// fuse=MNT:PROGRAM+ARG...: the view runs the FUSE program before the command, so the mount is
// there when the command starts; argv of the command is kept.
TEST_F(Fuse, FuseOptionMountsBeforeTheCommand) {
  NeedMemfs();
  RunResult r =
      RunUmview({"-p", "viewfs,fuse=" + mnt_ + ":" + Memfs(), "--", "sh", "-c",
                 "cat $M/hello; ls $M; echo args: \"$0\" \"$1\"; exit 3", "zero", "it's one"},
                Opts());
  // The view ends with the command's status: the program was unmounted when the command ended.
  ASSERT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "hello from memfs\nhello\nargs: zero it's one\n");
  EXPECT_FALSE(HostMounted(mnt_));
  // A program that fails to mount: one line, status 2, the command does not run.
  r = RunUmview({"-p", "viewfs,fuse=" + mnt_ + ":false", "--", "echo", "ran"}, Opts());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("fuse=" + mnt_ + ": false failed"), std::string::npos) << r.err;
}

TEST_F(Fuse, FuseMountInAYamlView) {
  NeedMemfs();
  std::string f = dir_ / "v.yaml";
  WriteFile(f,
            "version: 1\nplugins:\n  - name: viewfs\n    options:\n      mounts:\n"
            "        - {type: fuse, target: " +
                mnt_ + ", program: [" + Memfs() + "]}\n");
  RunResult r = RunUmview({"-f", f, "--", "sh", "-c", "cat $M/hello"}, Opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from memfs\n");
  WriteFile(f,
            "version: 1\nplugins:\n  - name: viewfs\n    options:\n      mounts:\n"
            "        - {type: fuse, target: " +
                mnt_ + "}\n");
  r = RunUmview({"-f", f, "--", "true"}, Opts());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing field 'program' for a fuse mount"), std::string::npos) << r.err;
}

// Bad fuse= values: one line naming the option, status 2, nothing runs.
TEST_F(Fuse, BadFuseOptionValues) {
  for (const std::string v :
       {"fuse=relative:prog", "fuse=/mnt", "fuse=/mnt:", "fuse=/mnt:+x", "fuse"}) {
    RunResult r = RunUmview({"-p", "viewfs," + v, "--", "echo", "ran"}, Opts());
    EXPECT_EQ(r.exit_code, 2) << v;
    EXPECT_EQ(r.out, "") << v;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << v << ": " << r.err;
    EXPECT_NE(r.err.find("fuse"), std::string::npos) << v << ": " << r.err;
  }
}

// Read-only opens get a memfd copy: programs run from the mount (ELF and #! script), mmap
// works, and a file opened read-only is a snapshot while writers still go through FUSE.
TEST_F(Fuse, ExecAndMmapOfFilesOfTheMount) {
  NeedMemfs();
  if (!Have("python3")) GTEST_SKIP() << "python3 missing";
  RunResult r =
      Sh("$MEMFS $M && cp /bin/echo $M/echo && chmod 755 $M/echo && $M/echo ran-from-fuse && "
         "printf '#!/bin/sh\\necho script $1\\n' > $M/s && chmod 755 $M/s && $M/s arg && "
         "cd $M && ./echo relative && python3 -c 'import mmap,sys; f=open(\"hello\",\"rb\"); "
         "m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); sys.stdout.write(m[:].decode())' && "
         "echo more >> hello && cat hello; cd /; umount $M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ran-from-fuse\nscript arg\nrelative\nhello from memfs\nhello from memfs\nmore\n");
}

// The option of the issue with squashfuse, and a program run from the image (a memfd copy).
TEST_F(Fuse, SquashfuseOptionRunsAProgramFromTheImage) {
  if (!Have("squashfuse") || !Have("mksquashfs")) {
    GTEST_SKIP() << "squashfuse or mksquashfs missing (packages squashfuse, squashfs-tools)";
  }
  std::string src = dir_ / "app";
  ASSERT_EQ(test::Run({"sh", "-c",
                       "mkdir -p " + src + "/bin && cp /bin/echo " + src + "/bin/ && mksquashfs " +
                           src + " " + (dir_ / "app.sqfs") + " -quiet -all-root"})
                .exit_code,
            0);
  RunResult r = RunUmview({"-p", "viewfs,fuse=" + mnt_ + ":squashfuse+app.sqfs", "--", "sh", "-c",
                           "cd $M/bin && ./echo from-the-image && env pwd"},
                          Opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-the-image\n" + mnt_ + "/bin\n");
  EXPECT_FALSE(HostMounted(mnt_));
}

// A signal to a thread waiting on the FUSE program (FUSE_INTERRUPT): the program gets
// INTERRUPT for the request it is serving, gives up with EINTR, the call fails with EINTR and
// the handler runs. As with kernel FUSE, SA_RESTART does not restart it (the program's EINTR is
// the result). An open(O_RDONLY), which reads the file before it returns, is interrupted too.
TEST_F(Fuse, SignalInterruptsACallWaitingOnTheProgram) {
  NeedMemfs();
  RunResult r = Sh("MEMFS_BLOCK=1 $MEMFS $M && " + Tracee("fuse_intr") +
                   " $M/block; rc=$?; cat $M/hello; umount $M; exit $rc");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "read -1 Interrupted system call handled=1\n"
            "read-restart -1 Interrupted system call handled=1\n"
            "open -1 Interrupted system call handled=1\n"
            "hello from memfs\n");
  std::string log = ReadFile(dir_ / "ops.log");
  size_t blocked = 0, interrupted = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    blocked += line == "read-block";
    interrupted += line == "interrupted";
  }
  EXPECT_EQ(blocked, 3u) << log;
  EXPECT_EQ(interrupted, 3u) << "memfs did not see INTERRUPT for every read\n" << log;
}

// A signal that ends the process (SIGTERM, no handler) ends a call waiting on the program, and
// the FUSE program's own idle threads, waiting for requests, get EINTR: SIGTERM ends it as it
// would with kernel FUSE (its handler, then its workers are cancelled), and the mount goes.
TEST_F(Fuse, FatalSignalsEndWaitersAndTheProgram) {
  NeedMemfs();
  RunResult r =
      Sh("MEMFS_BLOCK=1 $MEMFS -f $M & m=$!; until [ -e $M/hello ] || ! kill -0 $m 2>/dev/null; do "
         "sleep 0.05; done; "
         "cat $M/block & p=$!; until grep -q read-block ops.log; do sleep 0.05; done; "
         "kill $p; wait $p; echo cat=$?; cat $M/hello; kill $m; wait $m; echo memfs-gone; "
         "ls -A $M | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cat=143\nhello from memfs\nmemfs-gone\n0\n");
  EXPECT_FALSE(HostMounted(mnt_));
}

// READDIRPLUS: memfs offers it, listings use it, and `ls -l` takes the attributes it brought
// (no LOOKUP per entry afterwards); each entry counted as a lookup is forgotten correctly
// (libfuse checks its counts: memfs would abort on a FORGET of more than it gave).
TEST_F(Fuse, LsLongUsesReaddirplus) {
  NeedMemfs();
  RunResult r = Sh(
      "$MEMFS -f $M & m=$!; until [ -e $M/hello ] || ! kill -0 $m 2>/dev/null; do sleep 0.05; "
      "done; "
      "mkdir $M/d && echo abc > $M/d/f && ln -s f $M/d/l && mkdir $M/d/sub && "
      "for i in $(seq 1 20); do echo $i > $M/d/n$i; done; : > ops.log; "
      "ls -l $M/d | awk 'NR > 1 && $9 !~ /^n/ {print $1, $5, $9, $10, $11}'; "
      "grep -c getattr ops.log > getattr.count; "
      "ls -l $M/d | wc -l; cat $M/d/n20; rm -r $M/d; ls -l $M | awk 'NR > 1 {print $1, $5, $9}'; "
      "umount $M; wait $m; echo memfs=$?");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "-rw-r--r-- 4 f  \n"
            "lrwxrwxrwx 1 l -> f\n"
            "drwxr-xr-x 0 sub  \n"
            "24\n"
            "20\n"
            "-rw-r--r-- 17 hello\n"
            "memfs=0\n");
  std::string log = ReadFile(dir_ / "ops.log");
  EXPECT_NE(log.find("readdirplus\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("readdir\n"), std::string::npos) << "a plain READDIR was sent\n" << log;
  // Without the attributes READDIRPLUS brought, each of the 23 entries would be looked up
  // (memfs serves a LOOKUP with a getattr) by the stats of `ls -l`.
  int getattrs = std::stoi(ReadFile(dir_ / "getattr.count"));
  EXPECT_LT(getattrs, 23) << log;
}

// libfuse moves requests with splice(device -> pipe) and replies with splice(pipe -> device)
// when the connection allows it (and, racing its own INIT, sometimes when it then turns it
// off): both directions work on the view's device, for small requests and 128 KiB ones.
TEST_F(Fuse, SpliceOnTheDeviceBothWays) {
  NeedMemfs();
  RunResult r =
      Sh("head -c 300000 /dev/urandom > src; "
         "MEMFS_SPLICE=1 $MEMFS -f $M & m=$!; until [ -e $M/hello ] || ! kill -0 $m 2>/dev/null; "
         "do sleep 0.05; done; "
         "cat $M/hello && cp src $M/big && cmp src $M/big && echo same && ls $M; "
         "umount $M; wait $m; echo memfs=$?");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from memfs\nsame\nbig\nhello\nmemfs=0\n") << r.err;
  std::string log = ReadFile(dir_ / "ops.log");
  EXPECT_NE(log.find("read-splice\n"), std::string::npos) << log;
  EXPECT_NE(log.find("write\n"), std::string::npos) << log;
}

// sendfile and splice with a file of the mount on either side (the second descriptor argument
// too), with and without offset pointers; copy_file_range fails with EXDEV as between two file
// systems (callers fall back to read/write); tee and vmsplice refuse it as the kernel refuses a
// descriptor that is not a pipe. Files are opened read-write: read-only opens get a copy.
TEST_F(Fuse, DataMovedBetweenDescriptorsWithAFileOfTheMount) {
  NeedMemfs();
  const char* py = R"(import os, sys, errno
m = sys.argv[1]
data = os.urandom(200000)
open('host', 'wb').write(data)
def p(*a): print(*a, flush=True)
def err(f):
    try: return f()
    except OSError as e: return errno.errorcode[e.errno]
open(m + '/a', 'wb').write(data)
# sendfile: mount file -> host file with an offset pointer, then host -> mount at positions.
src = os.open(m + '/a', os.O_RDWR); dst = os.open('out1', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
n = 0
while n < len(data):
    k = os.sendfile(dst, src, n, len(data) - n)
    if k == 0: break
    n += k
p('sendfile from mount', open('out1', 'rb').read() == data, os.lseek(src, 0, os.SEEK_CUR))
os.close(src); os.close(dst)
src = os.open('host', os.O_RDONLY); dst = os.open(m + '/b', os.O_RDWR | os.O_CREAT | os.O_TRUNC)
n = 0
while True:
    k = os.sendfile(dst, src, None, 65536)
    if k == 0: break
    n += k
p('sendfile to mount', n, os.lseek(dst, 0, os.SEEK_CUR), open(m + '/b', 'rb').read() == data)
os.close(src); os.close(dst)
# splice through a pipe: mount file -> pipe -> mount file, at file positions and at an offset.
r, w = os.pipe()
src = os.open(m + '/a', os.O_RDWR); dst = os.open(m + '/c', os.O_RDWR | os.O_CREAT)
while True:
    k = os.splice(src, w, 32768)
    if k == 0: break
    while k:
        k -= os.splice(r, dst, k)
p('splice', open(m + '/c', 'rb').read() == data)
os.write(w, b'hello'); p('splice at offset', os.splice(r, dst, 5, offset_dst=3))
p(open(m + '/c', 'rb').read(10) == data[:3] + b'hello' + data[8:10])
p('copy_file_range', err(lambda: os.copy_file_range(src, os.open('out2', os.O_RDWR | os.O_CREAT), 10)),
  err(lambda: os.copy_file_range(os.open('host', os.O_RDONLY), dst, 10)), err(lambda: os.copy_file_range(src, w, 10)))
p('splice to a file', err(lambda: os.splice(src, os.open('host', os.O_WRONLY), 10)))
p('splice with a pipe offset', err(lambda: os.splice(src, w, 10, offset_dst=0)))
ro = os.open(m + '/c', os.O_WRONLY); p('splice from write-only', err(lambda: os.splice(ro, w, 10)))
import ctypes; libc = ctypes.CDLL(None, use_errno=True)
p('tee', libc.tee(src, w, 10, 0), errno.errorcode[ctypes.get_errno()])
p('vmsplice', libc.vmsplice(src, None, 0, 0), errno.errorcode[ctypes.get_errno()])
)";
  WriteFile(dir_ / "t.py", py);
  RunResult r = Sh("$MEMFS $M && python3 t.py $M; rc=$?; umount $M; exit $rc");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "sendfile from mount True 0\n"
            "sendfile to mount 200000 200000 True\n"
            "splice True\n"
            "splice at offset 5\n"
            "True\n"
            "copy_file_range EXDEV EXDEV EINVAL\n"
            "splice to a file EINVAL\n"
            "splice with a pipe offset ESPIPE\n"
            "splice from write-only EBADF\n"
            "tee -1 EINVAL\n"
            "vmsplice -1 EBADF\n");
  // Nothing went into the descriptors' stand-ins: the host copy is whole.
  EXPECT_EQ(ReadFile(dir_ / "host").size(), 200000u);
}

// A mount made in one view is seen neither by another view running at the same time nor by
// the host.
TEST_F(Fuse, MountInvisibleToAnotherViewAndToTheHost) {
  NeedMemfs();
  std::string ready = dir_ / "ready", done = dir_ / "done";
  RunResult a;
  std::thread first([&] {
    a = Sh("$MEMFS $M && cat $M/hello && touch " + ready + " && until [ -e " + done +
           " ]; do :; done; cat $M/hello; umount $M");
  });
  // Wait for the first view's mount (no timing: the file says it is there; Run has a timeout).
  RunResult wait = test::Run({"sh", "-c", "until [ -e " + ready + " ]; do sleep 0.05; done"});
  bool host_sees = HostMounted(mnt_);
  RunResult b = Sh("ls -A $M | wc -l; cat $M/hello 2>/dev/null || echo absent");
  WriteFile(done, "");
  first.join();
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, "hello from memfs\nhello from memfs\n");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "0\nabsent\n");
  EXPECT_FALSE(host_sees);
}

TEST_F(Fuse, SquashfuseTreeIdenticalToTheSource) {
  if (!Have("squashfuse") || !Have("mksquashfs") || !Have("fusermount3")) {
    GTEST_SKIP() << "squashfuse, mksquashfs or fusermount3 missing (packages squashfuse, "
                    "squashfs-tools, fuse3)";
  }
  std::string src = dir_ / "src";
  ASSERT_EQ(test::Run({"sh", "-c",
                       "mkdir -p " + src + "/a/b/c && cd " + src +
                           " && seq 1 50000 > big && echo hi > a/f && ln -s a/f lnk && "
                           "chmod 640 a/f && : > a/b/c/empty && "
                           "mksquashfs " +
                           src + " ../img.sqfs -quiet -all-root"})
                .exit_code,
            0);
  RunResult r =
      Sh("squashfuse img.sqfs $M || exit 1; diff -r src $M && echo same; "
         "find src -printf '%y %m %l %P\\n' | sort > a.list; "
         "find $M -printf '%y %m %l %P\\n' | sort > b.list; cmp a.list b.list && "
         "echo same-meta; fusermount3 -u $M; ls -A $M | wc -l");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "same\nsame-meta\n0\n");
  EXPECT_FALSE(HostMounted(mnt_));
}

TEST_F(Fuse, Fuse2fsWriteRemountFsckAndTreeTools) {
  if (!Have("fuse2fs") || !Have("mkfs.ext4") || !Have("e2fsck")) {
    GTEST_SKIP() << "fuse2fs or e2fsprogs missing (packages fuse2fs, e2fsprogs)";
  }
  std::string src = dir_ / "src";
  ASSERT_EQ(test::Run({"sh", "-c",
                       "mkdir -p " + src + "/d/e && echo hello > " + src +
                           "/d/x && for i in $(seq 1 40); do seq 1 $i > " + src +
                           "/d/e/f$i; done && ln -s d/x " + src + "/lnk && mkfs.ext4 -q -d " + src +
                           " " + (dir_ / "disk.img") + " 16M"})
                .exit_code,
            0);
  // fuse2fs -f, waited for: a FUSE program writes its image back after umount returns (as with a
  // kernel mount), and the second one must not race the first.
  RunResult r = Sh(
      "fuse2fs -f disk.img $M -o fakeroot >/dev/null & p=$!; "
      "until [ -e $M/lost+found ] || ! kill -0 $p 2>/dev/null; do :; done; "
      "cat $M/d/x; echo hi > $M/new; "
      "cp -a src/d $M/copy && diff -r src/d $M/copy && echo cp-same; "
      "tar cf t.tar -C $M copy; tar tf t.tar | sed 's,/$,,' | sort > t.list; "
      "find $M/copy | sed \"s,^$M/,,\" | sort > f.list; cmp t.list f.list && echo tar-find-same; "
      "mkdir x && tar xf t.tar -C x && diff -r src/d x/copy && echo untar-same; "
      "rm -r $M/copy; ls $M; umount $M; wait $p; "
      "fuse2fs -f disk.img $M -o fakeroot >/dev/null & p=$!; "
      "until [ -e $M/new ] || ! kill -0 $p 2>/dev/null; do :; done; "
      "cat $M/new; fusermount -u $M; wait $p");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "hello\ncp-same\ntar-find-same\nuntar-same\nd\nlnk\nlost+found\nnew\nhi\n");
  RunResult fsck = test::Run({"e2fsck", "-fn", dir_ / "disk.img"});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_FALSE(HostMounted(mnt_));
}

TEST_F(Fuse, SquashfuseAsAnOrdinaryUser) {
  if (!Have("squashfuse") || !Have("mksquashfs") || !Have("fusermount3")) {
    GTEST_SKIP() << "squashfuse, mksquashfs or fusermount3 missing";
  }
  std::vector<std::string> prefix;
  if (geteuid() == 0) {
    std::string user = UnprivilegedUser();
    const passwd* pw = user.empty() ? nullptr : getpwnam(user.c_str());
    if (pw == nullptr || pw->pw_uid == 0 || !Have("setpriv")) {
      GTEST_SKIP() << "running as root and no unprivileged user (or setpriv) to be had";
    }
    prefix = {"setpriv", "--reuid=" + std::to_string(pw->pw_uid),
              "--regid=" + std::to_string(pw->pw_gid), "--clear-groups", "--"};
    if (test::Run(
            {"setpriv", "--reuid=" + std::to_string(pw->pw_uid), "--", "test", "-x", UmviewBin()})
            .exit_code != 0) {
      GTEST_SKIP() << "the build tree is not reachable by user " << user;
    }
  }
  ASSERT_EQ(
      test::Run({"sh", "-c",
                 "mkdir -p " + (dir_ / "src/a") + " && echo hi > " + (dir_ / "src/a/f") +
                     " && mksquashfs " + (dir_ / "src") + " " + (dir_ / "img.sqfs") +
                     " -quiet && chmod -R a+rwX " + dir_.path() + " && chmod a+x " + dir_.path()})
          .exit_code,
      0);
  std::vector<std::string> argv = prefix;
  for (std::string s : {UmviewBin(), std::string("-p"), std::string("viewfs"), std::string("--"),
                        std::string("sh"), std::string("-c"),
                        std::string("id -u >/dev/null; squashfuse img.sqfs $M && cat $M/a/f && "
                                    "fusermount3 -u $M && ls -A $M | wc -l")}) {
    argv.push_back(s);
  }
  RunResult r = test::Run(argv, Opts());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n0\n");
}

}  // namespace
}  // namespace umview::test
