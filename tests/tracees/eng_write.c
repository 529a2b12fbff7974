/* Writes one line to fd 1 with a single write(2); exits 0 iff the whole line was written. */
#include <unistd.h>

int main(void) {
  static const char kLine[] = "written-to-fd-1\n";
  ssize_t n = write(1, kLine, sizeof kLine - 1);
  return n == (ssize_t)(sizeof kLine - 1) ? 0 : 1;
}
