// Bash completion: the scripts in completion/ run in a real bash with the variables bash sets
// for a completion function, and COMPREPLY is what bash would offer.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/packaging/packaging_util.h"

namespace umview::test {
namespace {

class Completion : public ::testing::Test {
 protected:
  void SetUp() override {
    // Fake plugins and views with names no real one has ("zz"), so an umview installed on the
    // machine (found through PATH) cannot change the answers.
    ASSERT_EQ(::umview::test::Run({"mkdir", "-p", plugins_.path(), home_ / ".config/umview/views",
                                   system_ / "views"})
                  .exit_code,
              0);
    for (const char* p : {"zzalpha.so", "zzbeta.so", "viewfs.so", "umnet.so"})
      WriteFile(plugins_ / p, "");
    WriteFile(plugins_ / "zznotaplugin.txt", "");
    WriteFile(home_ / ".config/umview/views/zzmine.yaml", "version: 1\n");
    WriteFile(system_ / "views/zzsystem.yaml", "version: 1\n");
    WriteFile(system_ / "views/zzmine.yaml", "version: 1\n");
  }

  // Completes `line` (the cursor at its end) with the function of `script` and returns
  // COMPREPLY. COMP_WORDS is split as bash splits it: at blanks, and at = and : which are in
  // bash's default COMP_WORDBREAKS.
  std::vector<std::string> Complete(const std::string& script, const std::string& function,
                                    const std::string& line) {
    std::string prog =
        "source \"$1\" || exit 9\n"
        "COMP_LINE=$2; COMP_POINT=${#2}\n"
        "w=${2//=/ = }; w=${w//:/ : }\n"
        "read -r -a COMP_WORDS <<<\"$w\"\n"
        "[[ $2 == *' ' ]] && COMP_WORDS+=('')\n"
        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
        "$3 || exit 8\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
    RunOptions opts;
    opts.extra_env = {"HOME=" + home_.path(), "XDG_CONFIG_HOME=" + home_.path() + "/.config",
                      "XDG_DATA_HOME=" + home_.path() + "/.local/share",
                      "UMVIEW_PLUGIN_PATH=" + plugins_.path(),
                      "UMVIEW_SYSTEM_VIEWS=" + system_.path() + "/views"};
    RunResult r = ::umview::test::Run(
        {"bash", "--norc", "--noprofile", "-c", prog, "bash",
         std::string(UMVIEW_SOURCE_DIR) + "/completion/" + script, line, function},
        opts);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::vector<std::string> out;
    for (const auto& l : SplitLines(r.out))
      if (!l.empty()) out.push_back(l);
    return out;
  }
  std::vector<std::string> Umview(const std::string& line) {
    return Complete("umview", "_umview", line);
  }

  TempDir plugins_, home_, system_;
};

using V = std::vector<std::string>;

bool Has(const V& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

TEST_F(Completion, PluginNamesComeFromThePluginDirectories) {
  EXPECT_EQ(Umview("umview -p zz"), (V{"zzalpha", "zzbeta"}));
  EXPECT_EQ(Umview("umview --plugin zzb"), (V{"zzbeta"}));
  V all = Umview("umview -p ");
  EXPECT_TRUE(Has(all, "viewfs") && Has(all, "umnet") && Has(all, "zzalpha")) << all.size();
}

TEST_F(Completion, OptionsOfTheShippedPlugins) {
  EXPECT_EQ(Umview("umview -p viewfs,b"), (V{"viewfs,bind="}));
  // bash replaces only its current word, "/tmp,h" (after the =).
  EXPECT_EQ(Umview("umview -p viewfs,tmp=/tmp,h"), (V{"/tmp,hide="}));
  V viewfs = Umview("umview -p viewfs,");
  EXPECT_EQ(viewfs.size(), 10u);
  EXPECT_TRUE(Has(viewfs, "viewfs,cow=")) << viewfs.size();
  EXPECT_TRUE(Has(viewfs, "viewfs,fuse=")) << viewfs.size();
  EXPECT_TRUE(Has(viewfs, "viewfs,prefilter=")) << viewfs.size();
  // After "mode=" bash's current word is "l" (= breaks words): the reply completes that word.
  EXPECT_EQ(Umview("umview -p umnet,mode=l"), (V{"loopback"}));
  EXPECT_EQ(Umview("umview -p umtrace,o"), (V{"umtrace,output="}));
  EXPECT_EQ(Umview("umview -p zzalpha,"), V{}) << "options of an unknown plugin";
}

TEST_F(Completion, ViewNamesFromTheUserAndSystemDirectories) {
  EXPECT_EQ(Umview("umview --view zz"), (V{"zzmine", "zzsystem"}));
  EXPECT_EQ(Umview("umview --show=zzs"), (V{"zzsystem"}));
}

TEST_F(Completion, OptionsEnginesAndLevels) {
  EXPECT_EQ(Umview("umview --log-l"), (V{"--log-level"}));
  EXPECT_EQ(Umview("umview --log-level w"), (V{"warning"}));
  EXPECT_EQ(Umview("umview -e "), (V{"ptrace", "kmview", "auto"}));
  V opts = Umview("umview --");
  for (const char* o : {"--plugin", "--bind", "--rootfs", "--cwd", "--file", "--view", "--check",
                        "--show", "--engine", "--log", "--log-level", "--verbose", "--stats",
                        "--spin", "--help", "--version"})
    EXPECT_TRUE(Has(opts, o)) << o;
}

TEST_F(Completion, TheCommandIsCompletedAsACommandAfterTheOptions) {
  V cmd = Umview("umview -p viewfs,tmp=/tmp -- ech");
  EXPECT_TRUE(Has(cmd, "echo"));
  EXPECT_EQ(std::count(cmd.begin(), cmd.end(), "echo"), 1);
  EXPECT_TRUE(Has(Umview("umview -v ech"), "echo"));
  // An option-looking word after the command belongs to the command: no umview options.
  EXPECT_FALSE(Has(Umview("umview ls --vers"), "--version"));
}

TEST_F(Completion, Umctl) {
  auto umctl = [&](const std::string& line) { return Complete("umctl", "_umctl", line); };
  EXPECT_EQ(umctl("umctl "), (V{"info", "mount", "umount", "save", "load", "unload", "--help"}));
  EXPECT_EQ(umctl("umctl mount b"), (V{"bind"}));
  EXPECT_EQ(umctl("umctl load zza"), (V{"zzalpha"}));
  EXPECT_EQ(umctl("umctl load viewfs,r"), (V{"viewfs,ro=", "viewfs,root="}));
  EXPECT_EQ(umctl("umctl save zzm"), (V{"zzmine"}));
}

}  // namespace
}  // namespace umview::test
