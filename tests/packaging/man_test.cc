// Man pages against the programs: every option of `umview --help` is in umview(1) and every
// option there is in --help; the same for umctl's commands; every option a shipped plugin
// accepts is in umview-plugins(7) and nothing more; groff formats all pages without a warning.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "tests/packaging/packaging_util.h"

namespace umview::test {
namespace {

std::string ManPage(const std::string& name) {
  return ReadFile(std::string(UMVIEW_SOURCE_DIR) + "/man/" + name);
}

// Roff to plain text for matching: "\-" to "-", font escapes dropped.
std::string Unroff(std::string s) {
  s = std::regex_replace(s, std::regex(R"(\\-)"), "-");
  s = std::regex_replace(s, std::regex(R"(\\f[BIRP])"), "");
  return s;
}

// The lines of section `.SH NAME` up to the next .SH.
std::vector<std::string> Section(const std::string& page, const std::string& name) {
  std::vector<std::string> out;
  bool in = false;
  for (const auto& l : SplitLines(page)) {
    if (l.rfind(".SH ", 0) == 0) {
      in = l == ".SH " + name;
      continue;
    }
    if (in) out.push_back(l);
  }
  return out;
}

// The line after each .TP of a section: the tagged paragraph's head.
std::vector<std::string> TaggedHeads(const std::string& page, const std::string& section) {
  std::vector<std::string> lines = Section(page, section), heads;
  for (size_t i = 0; i + 1 < lines.size(); ++i)
    if (lines[i] == ".TP") heads.push_back(Unroff(lines[i + 1]));
  return heads;
}

// "-p", "--plugin", ... at the start of `text` (options first, then their arguments).
std::set<std::string> LeadingOptions(const std::string& text) {
  std::set<std::string> out;
  static const std::regex kOption(R"(^\s*(--?[A-Za-z][A-Za-z-]*)(\[?=[^,\s]*\]?)?(,\s*|\s+|$))");
  std::smatch m;
  std::string rest = text;
  while (std::regex_search(rest, m, kOption)) {
    out.insert(m[1]);
    rest = m.suffix();
  }
  return out;
}

std::string Show(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += x + " ";
  return out;
}

TEST(ManPages, UmviewHelpAndManPageListTheSameOptions) {
  RunResult r = RunUmview({"--help"});
  ASSERT_EQ(r.exit_code, 0);
  std::set<std::string> help, man;
  for (const auto& l : SplitLines(r.out))
    if (l.rfind("  -", 0) == 0 || l.rfind("      --", 0) == 0) help.merge(LeadingOptions(l));
  for (const auto& h : TaggedHeads(ManPage("umview.1"), "OPTIONS")) man.merge(LeadingOptions(h));
  ASSERT_GE(help.size(), 20u) << Show(help);
  EXPECT_EQ(help, man) << "--help: " << Show(help) << "\numview.1: " << Show(man);
  EXPECT_TRUE(help.count("--log-level")) << Show(help);
}

TEST(ManPages, UmctlHelpAndManPageListTheSameCommands) {
  RunResult r = ::umview::test::Run({UMCTL_BIN, "--help"});
  ASSERT_EQ(r.exit_code, 0);
  std::set<std::string> help, man;
  static const std::regex kCommand(R"(^  ([a-z]+)(\s|$))");
  std::smatch m;
  for (const auto& l : SplitLines(r.out))
    if (std::regex_search(l, m, kCommand)) help.insert(m[1]);
  static const std::regex kHead(R"(^([a-z]+)(\s|$))");
  for (const auto& h : TaggedHeads(ManPage("umctl.1"), "COMMANDS"))
    if (std::regex_search(h, m, kHead)) man.insert(m[1]);
  ASSERT_GE(help.size(), 6u) << Show(help);
  EXPECT_EQ(help, man) << "--help: " << Show(help) << "\numctl.1: " << Show(man);
}

// The keys a plugin names in its "unknown option" line, e.g. "(expected output, filter)".
std::set<std::string> AcceptedKeys(const std::string& plugin) {
  RunResult r = RunUmview({"-p", plugin + ",zz-no-such-option=1", "--", "true"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::set<std::string> keys;
  size_t at = r.err.find("(expected ");
  if (at == std::string::npos) {
    ADD_FAILURE() << plugin << ": no '(expected ...)' in: " << r.err;
    return keys;
  }
  std::string list = r.err.substr(at + 10, r.err.find(')', at) - at - 10);
  static const std::regex kKey(R"((^|,\s*)([a-z]+))");
  for (std::sregex_iterator it(list.begin(), list.end(), kKey), end; it != end; ++it)
    keys.insert((*it)[2]);
  return keys;
}

TEST(ManPages, PluginOptionsMatchUmviewPlugins7) {
  std::string page = ManPage("umview-plugins.7");
  for (const std::string& plugin : {"viewfs", "umdev", "umnet", "umtrace"}) {
    SCOPED_TRACE(plugin);
    std::string upper = plugin;
    for (char& c : upper) c = static_cast<char>(toupper(c));
    std::set<std::string> accepted = AcceptedKeys(plugin), documented;
    ASSERT_GE(accepted.size(), 2u);
    static const std::regex kKey(R"(([a-z]+)=)");
    for (const auto& h : TaggedHeads(page, upper)) {
      for (std::sregex_iterator it(h.begin(), h.end(), kKey), end; it != end; ++it) {
        // Only keys at the start or after ", " (not sub-options like ":size=").
        size_t pos = it->position(0);
        if (pos == 0 || h.compare(pos - 2, 2, ", ") == 0) documented.insert((*it)[1]);
      }
    }
    EXPECT_EQ(accepted, documented)
        << "plugin says: " << Show(accepted) << "\numview-plugins(7): " << Show(documented);
  }
}

TEST(ManPages, GroffFormatsEveryPageWithoutWarnings) {
  if (::umview::test::Run({"sh", "-c", "command -v groff"}).exit_code != 0)
    GTEST_SKIP() << "no groff (groff-base)";
  for (const char* page : {"umview.1", "umctl.1", "umview-views.5", "umview-plugins.7"}) {
    RunResult r = ::umview::test::Run(
        {"groff", "-man", "-Tutf8", "-ww", "-z", std::string(UMVIEW_SOURCE_DIR) + "/man/" + page});
    EXPECT_EQ(r.exit_code, 0) << page;
    EXPECT_EQ(r.err, "") << page;
  }
}

}  // namespace
}  // namespace umview::test
