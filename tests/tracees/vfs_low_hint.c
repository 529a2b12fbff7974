/* Maps a page with the address hint 0x10000000 (where umview puts its scratch area, mapped
 * lazily), then reads PATH, then unmaps the page. Usage: vfs_low_hint PATH. Prints
 * "hint=at|elsewhere read=CONTENT munmap=RC". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* want = (void*)0x10000000;
  void* p = mmap(want, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 3;
  memset(p, 1, 4096);
  char buf[64] = {0};
  int fd = open(argv[1], O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
  int rc = munmap(p, 4096);
  printf("hint=%s read=%s munmap=%d\n", p == want ? "at" : "elsewhere", n > 0 ? buf : "-", rc);
  return 0;
}
