// floor MECHANISM PLACEMENT N: the cost per call of the bare kernel mechanisms a user-space
// engine can be built on, with no engine around them, so that an engine's per-stop cost can be
// read against what this machine allows at all. Prints the mean ns per getppid call.
//
// MECHANISM:
//   native        getppid with no filter
//   ptrace-pass   seccomp RET_TRACE on getppid, the tracer answers PTRACE_CONT (SYSVM outcome ii)
//   ptrace-skip   the same, the tracer skips the call and sets its value (outcome iii):
//                 PTRACE_GETREGS + PTRACE_SETREGS + PTRACE_CONT, as an engine must
//   notif-pass    seccomp user notification, the supervisor answers FLAG_CONTINUE
//   notif-skip    the same, the supervisor answers with a value
//   notif-sync-pass / notif-sync-skip
//                 the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6+): the kernel wakes
//                 the waiting side on the current CPU
//   sigsys-pass   seccomp RET_TRAP: the thread itself takes a SIGSYS, and its handler makes the
//                 call again from a trampoline the filter lets through by instruction pointer
//                 (an engine living in the tracee's own address space: no other task runs)
//   sigsys-skip   the same, the handler sets the value instead
//   sigsys-traced-pass
//                 sigsys-pass in a process that a tracer (ptrace, as umview's engine) also
//                 traces: every SIGSYS is then a signal-delivery stop the tracer must resume
// PLACEMENT: float (the scheduler places tracer and tracee) or cpu0 (both pinned to CPU 0).
// A mechanism the kernel lacks prints "unsupported" and exits 3.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

enum { kSkipValue = 4242 };

static void die(const char* what) {
  perror(what);
  exit(1);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// The timed loop, run by the traced child. Warm-up first so that the first wake-ups (and page
// faults of the supervisor) are not counted.
static void timed_loop(long n, int out_fd) {
  for (long i = 0; i < n / 10; i++) syscall(SYS_getppid);
  double start = now_ns();
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  double per_call = (now_ns() - start) / n;
  if (write(out_fd, &per_call, sizeof per_call) != sizeof per_call) die("write result");
}

// getppid gets `action`, everything else runs; with allow_ip, so does every call whose
// `syscall` instruction ends at allow_ip (sigsys's trampoline).
static void install_filter(unsigned action, unsigned flags, int* listener,
                           unsigned long allow_ip) {
  const struct sock_filter by_ip[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)allow_ip, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
               offsetof(struct seccomp_data, instruction_pointer) + sizeof(unsigned)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)(allow_ip >> 32), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const struct sock_filter by_nr[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_filter insns[sizeof by_ip / sizeof by_ip[0] + sizeof by_nr / sizeof by_nr[0]];
  size_t count = 0;
  if (allow_ip != 0) {
    memcpy(insns, by_ip, sizeof by_ip);
    count = sizeof by_ip / sizeof by_ip[0];
  }
  memcpy(insns + count, by_nr, sizeof by_nr);
  count += sizeof by_nr / sizeof by_nr[0];
  struct sock_fprog prog = {(unsigned short)count, insns};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (fd < 0) die("seccomp");
  if (listener) *listener = (int)fd;
}

// One byte plus room for one SCM_RIGHTS descriptor.
struct fd_message {
  char data;
  struct iovec iov;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
};

static void init_fd_message(struct fd_message* m) {
  memset(m, 0, sizeof *m);
  m->data = 'f';
  m->iov.iov_base = &m->data;
  m->iov.iov_len = 1;
  m->msg.msg_iov = &m->iov;
  m->msg.msg_iovlen = 1;
  m->msg.msg_control = m->control.buf;
  m->msg.msg_controllen = sizeof m->control.buf;
}

static void send_fd(int sock, int fd) {
  struct fd_message m;
  init_fd_message(&m);
  struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &m.msg, 0) != 1) die("sendmsg");
}

static int receive_fd(int sock) {
  struct fd_message m;
  init_fd_message(&m);
  if (recvmsg(sock, &m.msg, 0) != 1) die("recvmsg");
  struct cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "floor: no descriptor received\n");
    exit(1);
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static double read_result(int fd) {
  double per_call;
  if (read(fd, &per_call, sizeof per_call) != sizeof per_call) {
    fprintf(stderr, "floor: the traced loop did not report\n");
    exit(1);
  }
  return per_call;
}

// sigsys-*: the only instructions whose system calls the filter lets through unseen. Called as
// floor_trampoline(nr, a0, a1, a2, a3, a4, a5), System V order; the kernel's order is
// rax, rdi, rsi, rdx, r10, r8, r9.
long floor_trampoline(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
extern const char floor_trampoline_end[];
__asm__(
    ".text\n"
    ".globl floor_trampoline\n"
    ".globl floor_trampoline_end\n"
    "floor_trampoline:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  mov %rdx, %rsi\n"
    "  mov %rcx, %rdx\n"
    "  mov %r8, %r10\n"
    "  mov %r9, %r8\n"
    "  mov 8(%rsp), %r9\n"
    "  syscall\n"
    "floor_trampoline_end:\n"
    "  ret\n");

static int sigsys_skip;

static void on_sigsys(int sig, siginfo_t* si, void* context) {
  (void)sig;
  greg_t* r = ((ucontext_t*)context)->uc_mcontext.gregs;
  r[REG_RAX] = sigsys_skip ? kSkipValue
                           : floor_trampoline(si->si_syscall, r[REG_RDI], r[REG_RSI], r[REG_RDX],
                                              r[REG_R10], r[REG_R8], r[REG_R9]);
}

static double run_sigsys(long n, int skip, int traced) {
  int p[2];
  if (pipe(p) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (traced) {
      if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) die("PTRACE_TRACEME");
      raise(SIGSTOP);
    }
    sigsys_skip = skip;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) != 0) die("sigaction");
    // The handler's answer must be the call's: checked once before timing.
    const long want = skip ? kSkipValue : (long)getppid();
    // The instruction pointer the kernel reports is the one after `syscall`.
    install_filter(SECCOMP_RET_TRAP, 0, NULL, (unsigned long)floor_trampoline_end);
    if (syscall(SYS_getppid) != want) {
      fprintf(stderr, "floor: sigsys answered the wrong value\n");
      _exit(1);
    }
    timed_loop(n, p[1]);
    _exit(0);
  }
  int status;
  if (traced) {
    // The tracer of a process that only takes signals: each one stops the tracee, and is
    // delivered as it came.
    if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) die("wait for SIGSTOP");
    if (ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_EXITKILL) != 0) die("PTRACE_SETOPTIONS");
    int sig = 0;
    for (;;) {
      if (ptrace(PTRACE_CONT, child, 0, sig) != 0) die("PTRACE_CONT");
      if (waitpid(child, &status, 0) != child) die("waitpid");
      if (WIFEXITED(status) || WIFSIGNALED(status)) break;
      sig = WIFSTOPPED(status) ? WSTOPSIG(status) : 0;
    }
  } else if (waitpid(child, &status, 0) != child) {
    die("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "floor: the sigsys loop failed\n");
    exit(1);
  }
  close(p[1]);
  return read_result(p[0]);
}

static double run_native(long n) {
  int p[2];
  if (pipe(p) != 0) die("pipe");
  timed_loop(n, p[1]);
  return read_result(p[0]);
}

static double run_ptrace(long n, int skip) {
  int p[2];
  if (pipe(p) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) die("PTRACE_TRACEME");
    raise(SIGSTOP);
    install_filter(SECCOMP_RET_TRACE, 0, NULL, 0);
    timed_loop(n, p[1]);
    _exit(0);
  }
  int status;
  if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) die("wait for SIGSTOP");
  if (ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL) != 0)
    die("PTRACE_SETOPTIONS");
  int sig = 0;
  for (;;) {
    if (ptrace(PTRACE_CONT, child, 0, sig) != 0) die("PTRACE_CONT");
    sig = 0;
    if (waitpid(child, &status, 0) != child) die("waitpid");
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
      if (skip) {
        struct user_regs_struct regs;
        if (ptrace(PTRACE_GETREGS, child, 0, &regs) != 0) die("PTRACE_GETREGS");
        regs.orig_rax = -1;  // no call
        regs.rax = kSkipValue;
        if (ptrace(PTRACE_SETREGS, child, 0, &regs) != 0) die("PTRACE_SETREGS");
      }
    } else if (WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP) {
      sig = WSTOPSIG(status);
    }
  }
  close(p[1]);
  return read_result(p[0]);
}

static double run_notif(long n, int skip, int sync_wake) {
  int p[2], sv[2];
  if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    int listener;
    install_filter(SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER, &listener, 0);
    send_fd(sv[0], listener);
    close(listener);
    char go;
    if (read(sv[0], &go, 1) != 1) _exit(1);
    timed_loop(n, p[1]);
    _exit(0);
  }
  int listener = receive_fd(sv[1]);
  if (sync_wake &&
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) != 0) {
    kill(child, SIGKILL);
    printf("unsupported\n");
    exit(3);
  }
  if (write(sv[1], "g", 1) != 1) die("write");
  for (;;) {
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) break;  // the child is gone
    struct seccomp_notif_resp resp = {.id = req.id};
    if (skip)
      resp.val = kSkipValue;
    else
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT) break;
  }
  waitpid(child, NULL, 0);
  close(p[1]);
  return read_result(p[0]);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: floor MECHANISM float|cpu0 N\n");
    return 2;
  }
  const char* mech = argv[1];
  long n = strtol(argv[3], NULL, 10);
  if (n <= 0) {
    fprintf(stderr, "floor: N must be a positive number, not '%s'\n", argv[3]);
    return 2;
  }
  if (strcmp(argv[2], "cpu0") == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
  } else if (strcmp(argv[2], "float") != 0) {
    fprintf(stderr, "floor: placement must be float or cpu0, not '%s'\n", argv[2]);
    return 2;
  }
  double per_call;
  if (strcmp(mech, "native") == 0)
    per_call = run_native(n);
  else if (strcmp(mech, "ptrace-pass") == 0)
    per_call = run_ptrace(n, 0);
  else if (strcmp(mech, "ptrace-skip") == 0)
    per_call = run_ptrace(n, 1);
  else if (strcmp(mech, "notif-pass") == 0)
    per_call = run_notif(n, 0, 0);
  else if (strcmp(mech, "notif-skip") == 0)
    per_call = run_notif(n, 1, 0);
  else if (strcmp(mech, "notif-sync-pass") == 0)
    per_call = run_notif(n, 0, 1);
  else if (strcmp(mech, "notif-sync-skip") == 0)
    per_call = run_notif(n, 1, 1);
  else if (strcmp(mech, "sigsys-pass") == 0)
    per_call = run_sigsys(n, 0, 0);
  else if (strcmp(mech, "sigsys-skip") == 0)
    per_call = run_sigsys(n, 1, 0);
  else if (strcmp(mech, "sigsys-traced-pass") == 0)
    per_call = run_sigsys(n, 0, 1);
  else {
    fprintf(stderr, "floor: unknown mechanism '%s'\n", mech);
    return 2;
  }
  printf("%.1f\n", per_call);
  return 0;
}
