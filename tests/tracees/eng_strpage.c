/* chdir(2) on a string that ends exactly at the end of a mapping followed by an unmapped page.
 * Usage: eng_strpage nul|nonul LEN. "nul": a path of LEN bytes with its NUL (the mapping's last
 * byte) that does not exist; "nonul": LEN bytes of 'a' and no NUL before the hole. Prints r and
 * errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  int nul = strcmp(argv[1], "nul") == 0;
  size_t len = (size_t)atol(argv[2]);
  long page = sysconf(_SC_PAGESIZE);
  if (len < 2 || len > (size_t)page) return 2;
  char* m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || munmap(m + page, page) != 0) return 3;
  char* s = m + page - len;
  if (nul) {
    /* A path that does not exist: "eee..." relative to the cwd, or "/eng-no-such-dir/xxx/..."
     * when long (components stay under NAME_MAX so the error is ENOENT). */
    for (size_t i = 0; i < len - 1; ++i) s[i] = len > 64 ? ((i % 64 == 0) ? '/' : 'x') : 'e';
    if (len > 64) memcpy(s, "/eng-no-such-dir", 16);
    s[len - 1] = '\0';
  } else {
    memset(s, 'a', len);
  }
  errno = 0;
  long r = syscall(SYS_chdir, s);
  printf("r=%ld errno=%d\n", r, errno);
  return 0;
}
