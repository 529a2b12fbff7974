// Prints the network interfaces as a program sees them, through every door the umnet tests
// check: getifaddrs(3) and if_nameindex(3) (glibc asks NETLINK_ROUTE), SIOCGIFCONF, and the
// per-interface ioctls on an AF_UNIX socket (the kernel answers them for any socket family).
//   umnet_ifaces [NAME|#INDEX ...]
// prints
//   getifaddrs NAME/FAMILY[/ADDR] ...      (sorted as returned)
//   nameindex INDEX:NAME ...
//   ifconf NAME/ADDR ...
//   NAME flags=UP,LOOPBACK index=N | NAME ENODEV      for each NAME argument
//   #INDEX name=NAME | #INDEX ENODEV                   for each #INDEX argument
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char* Err(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E?";
}

static void Addr(const struct sockaddr* sa, char* out, size_t n) {
  out[0] = 0;
  if (sa == NULL) return;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in*)sa)->sin_addr, out, n);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &((const struct sockaddr_in6*)sa)->sin6_addr, out, n);
  }
}

static const char* Family(int f) {
  return f == AF_INET ? "AF_INET" : f == AF_INET6 ? "AF_INET6" : f == AF_PACKET ? "AF_PACKET" : "?";
}

int main(int argc, char** argv) {
  struct ifaddrs* list;
  printf("getifaddrs");
  if (getifaddrs(&list) != 0) {
    printf(" %s", Err(errno));
  } else {
    for (struct ifaddrs* i = list; i; i = i->ifa_next) {
      char a[INET6_ADDRSTRLEN];
      int f = i->ifa_addr ? i->ifa_addr->sa_family : 0;
      Addr(i->ifa_addr, a, sizeof a);
      printf(" %s/%s%s%s", i->ifa_name, Family(f), a[0] ? "/" : "", a);
    }
    freeifaddrs(list);
  }
  printf("\nnameindex");
  struct if_nameindex* ni = if_nameindex();
  if (ni == NULL) {
    printf(" %s", Err(errno));
  } else {
    for (struct if_nameindex* p = ni; p->if_index != 0; ++p)
      printf(" %u:%s", p->if_index, p->if_name);
    if_freenameindex(ni);
  }
  printf("\nifconf");
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct ifreq reqs[64];
  struct ifconf ifc = {.ifc_len = sizeof reqs, .ifc_req = reqs};
  struct ifconf probe = {.ifc_len = 0, .ifc_buf = NULL};
  if (ioctl(s, SIOCGIFCONF, &probe) != 0 || ioctl(s, SIOCGIFCONF, &ifc) != 0) {
    printf(" %s", Err(errno));
  } else {
    for (size_t k = 0; k < ifc.ifc_len / sizeof(struct ifreq); ++k) {
      char a[INET6_ADDRSTRLEN];
      Addr(&reqs[k].ifr_addr, a, sizeof a);
      printf(" %s/%s", reqs[k].ifr_name, a);
    }
    printf(" (probe %d)", probe.ifc_len);
  }
  printf("\n");
  for (int i = 1; i < argc; ++i) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    if (argv[i][0] == '#') {
      r.ifr_ifindex = atoi(argv[i] + 1);
      if (ioctl(s, SIOCGIFNAME, &r) != 0) {
        printf("%s %s\n", argv[i], Err(errno));
      } else {
        printf("%s name=%s\n", argv[i], r.ifr_name);
      }
      continue;
    }
    snprintf(r.ifr_name, IFNAMSIZ, "%s", argv[i]);
    if (ioctl(s, SIOCGIFFLAGS, &r) != 0) {
      printf("%s %s\n", argv[i], Err(errno));
      continue;
    }
    printf("%s flags=%s%s", argv[i], (r.ifr_flags & IFF_UP) ? "UP" : "DOWN",
           (r.ifr_flags & IFF_LOOPBACK) ? ",LOOPBACK" : "");
    if (ioctl(s, SIOCGIFINDEX, &r) != 0) {
      printf(" index %s\n", Err(errno));
    } else {
      printf(" index=%d\n", r.ifr_ifindex);
    }
  }
  return 0;
}
