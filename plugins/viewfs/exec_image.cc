// Parsing of executables for viewfs; see exec_image.h.
#include "plugins/viewfs/exec_image.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace umview::viewfs {

ExecImage ReadExecImage(const std::string& path) {
  ExecImage img;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return img;
  char head[256];
  ssize_t n = pread(fd, head, sizeof head, 0);
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    // As binfmt_script: up to the newline; leading blanks skipped; the interpreter ends at the
    // first blank; the rest, trimmed, is one argument.
    std::string line(head + 2, n - 2);
    size_t nl = line.find('\n');
    if (nl != std::string::npos) line.resize(nl);
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string::npos) {
      size_t e = line.find_first_of(" \t", b);
      img.kind = ExecImage::kScript;
      img.interp = line.substr(b, e == std::string::npos ? std::string::npos : e - b);
      if (e != std::string::npos) {
        size_t ab = line.find_first_not_of(" \t", e);
        size_t ae = line.find_last_not_of(" \t");
        if (ab != std::string::npos) {
          img.interp_arg = line.substr(ab, ae - ab + 1);
          img.has_interp_arg = true;
        }
      }
    }
  } else if (n >= static_cast<ssize_t>(sizeof(Elf64_Ehdr)) && memcmp(head, ELFMAG, SELFMAG) == 0 &&
             head[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr eh;
    memcpy(&eh, head, sizeof eh);
    img.kind = ExecImage::kElf;
    if (eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 && eh.e_phnum < 256) {
      std::vector<Elf64_Phdr> ph(eh.e_phnum);
      ssize_t want = static_cast<ssize_t>(ph.size() * sizeof(Elf64_Phdr));
      if (pread(fd, ph.data(), want, static_cast<off_t>(eh.e_phoff)) == want) {
        for (const auto& p : ph) {
          if (p.p_type != PT_INTERP || p.p_filesz == 0 || p.p_filesz > 4096) continue;
          std::string s(p.p_filesz, '\0');
          if (pread(fd, s.data(), s.size(), static_cast<off_t>(p.p_offset)) ==
              static_cast<ssize_t>(s.size())) {
            s.resize(strnlen(s.c_str(), s.size()));
            img.interp = s;
          }
          break;
        }
      }
    }
  }
  close(fd);
  return img;
}

}  // namespace umview::viewfs
