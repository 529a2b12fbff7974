/* Stats PATH, drops to user and group nobody (65534) with raw system calls in this very thread,
 * stats PATH again. Usage (as root): vfs_drop_ids PATH. Prints "before=ERRNO after=ERRNO", 0
 * for a stat that succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int stat_errno(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? 0 : errno;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int before = stat_errno(argv[1]);
  /* Raw calls: glibc's setuid() would signal every thread; there is only this one. */
  if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
      syscall(SYS_setresuid, 65534, 65534, 65534) != 0) {
    perror("dropping ids");
    return 3;
  }
  printf("before=%d after=%d\n", before, stat_errno(argv[1]));
  return 0;
}
