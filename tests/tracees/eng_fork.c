/* Creates one child with fork, vfork or raw clone3 (argv[1]: fork vfork clone3 clone3_vm
 * clone3_vfork clone3_untraced) that calls getppid(2) with a raw syscall and exits 7 if it got
 * argv[2], else 1.
 * Prints the child's exit status as the parent saw it. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_VM
#define CLONE_VM 0x00000100
#endif
#ifndef CLONE_VFORK
#define CLONE_VFORK 0x00004000
#endif
#ifndef CLONE_UNTRACED
#define CLONE_UNTRACED 0x00800000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* The first version of struct clone_args (CLONE_ARGS_SIZE_VER0, 64 bytes). */
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static long g_expected;
static char g_stack[64 * 1024] __attribute__((aligned(16)));

/* No libc in the child: with CLONE_VM it shares the parent's memory and TLS. */
static long Raw0(long nr) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"(nr) : "rcx", "r11", "memory");
  return r;
}

static int ChildBody(void) { return Raw0(SYS_getppid) == g_expected ? 7 : 1; }

/* clone3 whose child runs ChildBody on its (new or copied) stack and exits with its value. */
static long Clone3(struct CloneArgs* args) {
  long ret;
  register int (*fn)(void) __asm__("r12") = ChildBody;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "and $-16, %%rsp\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $60, %%eax\n\t"
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "=a"(ret)
      : "0"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(fn)
      : "rcx", "r11", "memory");
  return ret;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* mode = argv[1];
  g_expected = atol(argv[2]);
  pid_t pid;
  if (strcmp(mode, "fork") == 0) {
    pid = fork();
    if (pid == 0) _exit(ChildBody());
  } else if (strcmp(mode, "vfork") == 0) {
    pid = vfork();
    if (pid == 0) _exit(ChildBody());
  } else {
    struct CloneArgs a;
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    if (strcmp(mode, "clone3_vm") == 0) {
      a.flags = CLONE_VM;
    } else if (strcmp(mode, "clone3_vfork") == 0) {
      a.flags = CLONE_VM | CLONE_VFORK;
    } else if (strcmp(mode, "clone3_untraced") == 0) {
      a.flags = CLONE_UNTRACED;
    } else if (strcmp(mode, "clone3") != 0) {
      return 2;
    }
    if (a.flags & CLONE_VM) {
      a.stack = (uint64_t)(uintptr_t)g_stack;
      a.stack_size = sizeof g_stack;
    }
    long r = Clone3(&a);
    pid = r < 0 ? -1 : (pid_t)r;
    if (r < 0) errno = (int)-r;
  }
  if (pid < 0) {
    printf("%s: cannot create the child: errno=%d\n", mode, errno);
    return 4;
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return 5;
  printf("%s: child exited=%d status=%d\n", mode, WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
