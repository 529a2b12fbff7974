// Interface views; see interfaces.h.
#include "plugins/umnet/interfaces.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
// After <net/if.h>: the kernel's netlink headers without its <linux/if.h>.
#include <linux/if_addrlabel.h>
#include <linux/netconf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include <cerrno>
#include <cstring>

namespace umnet {

using umview::Call;
using umview::RemotePtr;

namespace {

// Requests that take a struct ifreq naming the interface (SIOCGIFNAME names it by index).
constexpr unsigned long kIfreqGets[] = {
    SIOCGIFNAME,    SIOCGIFFLAGS,  SIOCGIFADDR, SIOCGIFDSTADDR, SIOCGIFBRDADDR,
    SIOCGIFNETMASK, SIOCGIFMETRIC, SIOCGIFMTU,  SIOCGIFHWADDR,  SIOCGIFINDEX,
    SIOCGIFPFLAGS,  SIOCGIFTXQLEN, SIOCGIFMAP,  SIOCGIFSLAVE,   0x8B01 /* SIOCGIWNAME */};
// Requests whose ifreq carries a pointer into the caller's memory, or that change something:
// checked by name on real sockets, not performed by umnet for an emulated one.
constexpr unsigned long kIfreqOthers[] = {
    SIOCETHTOOL,    SIOCGMIIPHY,        SIOCGMIIREG,    SIOCSIFFLAGS,  SIOCSIFADDR,
    SIOCSIFDSTADDR, SIOCSIFBRDADDR,     SIOCSIFNETMASK, SIOCSIFMETRIC, SIOCSIFMTU,
    SIOCSIFNAME,    SIOCSIFHWADDR,      SIOCSIFTXQLEN,  SIOCSIFMAP,    SIOCSIFPFLAGS,
    SIOCDIFADDR,    SIOCSIFHWBROADCAST, SIOCADDMULTI,   SIOCDELMULTI};

bool IsGet(unsigned long request) {
  for (unsigned long r : kIfreqGets) {
    if (r == request) return true;
  }
  return false;
}

// A u32 attribute of an rtnetlink message whose family header is `hdrlen` bytes long.
bool FindU32Attr(const nlmsghdr* h, size_t hdrlen, unsigned short type, uint32_t* out) {
  size_t off = NLMSG_LENGTH(NLMSG_ALIGN(hdrlen));
  while (off + sizeof(rtattr) <= h->nlmsg_len) {
    const auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(h) + off);
    if (a->rta_len < sizeof(rtattr) || off + a->rta_len > h->nlmsg_len) return false;
    if ((a->rta_type & NLA_TYPE_MASK) == type && a->rta_len >= RTA_LENGTH(sizeof(uint32_t))) {
      memcpy(out, RTA_DATA(a), sizeof *out);
      return true;
    }
    off += RTA_ALIGN(a->rta_len);
  }
  return false;
}

// The family header of a message, if it is long enough to hold `size` bytes.
template <typename T>
const T* Body(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(T))) return nullptr;
  return reinterpret_cast<const T*>(NLMSG_DATA(h));
}

}  // namespace

const std::vector<unsigned long>& InterfaceIoctls() {
  static const std::vector<unsigned long> all = [] {
    std::vector<unsigned long> v(std::begin(kIfreqGets), std::end(kIfreqGets));
    v.insert(v.end(), std::begin(kIfreqOthers), std::end(kIfreqOthers));
    v.push_back(SIOCGIFCONF);
    return v;
  }();
  return all;
}

InterfaceView::InterfaceView(bool show_loopback) {
  if (show_loopback) lo_index_ = static_cast<int>(if_nametoindex("lo"));
  // A netlink socket answers the generic interface ioctls as the tracee's emulated
  // NETLINK_ROUTE socket would (the kernel handles them the same for every family).
  ioctl_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

InterfaceView::~InterfaceView() {
  if (ioctl_fd_ >= 0) close(ioctl_fd_);
}

bool InterfaceView::KeepMessage(const nlmsghdr* h) const {
  if (h->nlmsg_type < RTM_BASE) return true;  // NLMSG_DONE, NLMSG_ERROR, ...
  uint32_t index = 0;
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (auto* m = Body<ifinfomsg>(h)) return Visible(m->ifi_index);
      return false;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (auto* m = Body<ifaddrmsg>(h)) return Visible(static_cast<int>(m->ifa_index));
      return false;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      // A route through a device the view lacks, or through none (blackhole, multipath,
      // nexthop objects), is not the view's.
      return FindU32Attr(h, sizeof(rtmsg), RTA_OIF, &index) && Visible(static_cast<int>(index));
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
      if (auto* m = Body<ndmsg>(h)) return Visible(m->ndm_ifindex);
      return false;
    case RTM_NEWQDISC:
    case RTM_DELQDISC:
    case RTM_NEWTCLASS:
    case RTM_DELTCLASS:
    case RTM_NEWTFILTER:
    case RTM_DELTFILTER:
    case RTM_NEWCHAIN:
    case RTM_DELCHAIN:
      if (auto* m = Body<tcmsg>(h)) return Visible(m->tcm_ifindex);
      return false;
    case RTM_NEWNETCONF:
    case RTM_DELNETCONF: {
      if (!FindU32Attr(h, sizeof(netconfmsg), NETCONFA_IFINDEX, &index)) return true;
      int i = static_cast<int>(index);  // NETCONFA_IFINDEX_ALL / _DEFAULT are negative
      return i < 0 || Visible(i);
    }
    case RTM_NEWSTATS:
      if (auto* m = Body<if_stats_msg>(h)) return Visible(static_cast<int>(m->ifindex));
      return false;
    case RTM_NEWPREFIX:
      if (auto* m = Body<prefixmsg>(h)) return Visible(m->prefix_ifindex);
      return false;
    case RTM_NEWADDRLABEL:
    case RTM_DELADDRLABEL:
      if (auto* m = Body<ifaddrlblmsg>(h)) return m->ifal_index == 0 || Visible(m->ifal_index);
      return false;
    case RTM_NEWRULE:
    case RTM_DELRULE:
      return true;  // policy routing rules name tables, not devices (iif/oif aside)
  }
  return false;  // what umnet cannot attribute to an interface is not shown
}

std::string InterfaceView::FilterReplies(const char* data, size_t len, uint32_t portid,
                                         bool* dropped) const {
  std::string out;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    nlmsghdr h;
    memcpy(&h, data + off, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) break;
    size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), len - off);
    // Aligned copy so the family headers can be read in place.
    std::string msg(data + off, step);
    if (KeepMessage(reinterpret_cast<const nlmsghdr*>(msg.data()))) {
      h.nlmsg_pid = portid;
      memcpy(msg.data(), &h, sizeof h);
      out += msg;
    } else {
      *dropped = true;
    }
    off += step;
  }
  return out;
}

int InterfaceView::CheckIfreq(Call& call, unsigned long request, uint64_t arg) const {
  ifreq ifr{};
  if (call.Read(RemotePtr<void>(arg), &ifr, sizeof ifr) != 0) return -EFAULT;
  if (request == SIOCGIFNAME) return Visible(ifr.ifr_ifindex) ? 0 : -ENODEV;
  std::string_view name(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  return VisibleName(name) ? 0 : -ENODEV;
}

int64_t InterfaceView::Ifconf(Call& call, uint64_t arg) const {
  ifconf in{};
  if (call.Read(RemotePtr<void>(arg), &in, sizeof in) != 0) return -EFAULT;
  // The host's list (one entry per IPv4 address), then only the visible interfaces'.
  std::vector<ifreq> all(16);
  while (true) {
    ifconf c{};
    c.ifc_len = static_cast<int>(all.size() * sizeof(ifreq));
    c.ifc_req = all.data();
    if (ioctl_fd_ < 0 || ioctl(ioctl_fd_, SIOCGIFCONF, &c) != 0) return -errno;
    if (static_cast<size_t>(c.ifc_len) < all.size() * sizeof(ifreq)) {
      all.resize(c.ifc_len / sizeof(ifreq));
      break;
    }
    all.resize(all.size() * 2);
  }
  std::vector<ifreq> seen;
  for (const ifreq& r : all) {
    if (VisibleName(std::string_view(r.ifr_name, strnlen(r.ifr_name, IFNAMSIZ)))) {
      seen.push_back(r);
    }
  }
  ifconf out = in;
  if (in.ifc_buf == nullptr) {
    out.ifc_len = static_cast<int>(seen.size() * sizeof(ifreq));  // the size it would need
  } else {
    size_t fit = in.ifc_len > 0 ? static_cast<size_t>(in.ifc_len) / sizeof(ifreq) : 0;
    seen.resize(std::min(fit, seen.size()));
    if (!seen.empty() && call.Write(RemotePtr<void>(reinterpret_cast<uint64_t>(in.ifc_buf)),
                                    seen.data(), seen.size() * sizeof(ifreq)) != 0) {
      return -EFAULT;
    }
    out.ifc_len = static_cast<int>(seen.size() * sizeof(ifreq));
  }
  if (call.Write(RemotePtr<void>(arg + offsetof(ifconf, ifc_len)), &out.ifc_len,
                 sizeof out.ifc_len) != 0) {
    return -EFAULT;
  }
  return 0;
}

// Whether descriptor `fd` of the calling thread is a socket (the kernel answers these ioctls
// with ENOTTY on anything else, and so must the view).
static bool IsSocket(Call& call, int fd) {
  char link[64];
  std::string path = "/proc/" + std::to_string(call.tid()) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
  return n > 7 && memcmp(link, "socket:", 7) == 0;
}

void InterfaceView::OnIoctl(Call& call) const {
  unsigned long request = call.arg(1);
  int fd = static_cast<int>(call.arg(0));
  if (request == SIOCGIFCONF) {
    if (IsSocket(call, fd)) call.Return(Ifconf(call, call.arg(2)));
    return;
  }
  int r = CheckIfreq(call, request, call.arg(2));
  if (r == 0 || !IsSocket(call, fd)) return;  // the kernel answers
  call.Return(r);
}

int64_t InterfaceView::Emulate(Call& call, unsigned long request, uint64_t arg) const {
  if (request == SIOCGIFCONF) return Ifconf(call, arg);
  bool get = IsGet(request);
  bool other = false;
  for (unsigned long r : kIfreqOthers) other |= r == request;
  if (!get && !other) return -ENOTTY;
  int r = CheckIfreq(call, request, arg);
  if (r != 0) return r;
  if (request == SIOCETHTOOL || request == SIOCGMIIPHY || request == SIOCGMIIREG) {
    return -EOPNOTSUPP;  // their data lies behind a pointer in the caller's memory
  }
  if (!get) return -EPERM;  // the view does not change the host's interfaces through umnet
  ifreq ifr{};
  if (call.Read(RemotePtr<void>(arg), &ifr, sizeof ifr) != 0) return -EFAULT;
  if (ioctl(ioctl_fd_, request, &ifr) != 0) return -errno;
  return call.Write(RemotePtr<void>(arg), &ifr, sizeof ifr);
}

}  // namespace umnet
