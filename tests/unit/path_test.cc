// Lexical path operations used for routing.
#include "core/path.h"

#include <gtest/gtest.h>

namespace umview {
namespace {

TEST(Path, Normalize) {
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("//a///b/"), "/a/b");
  EXPECT_EQ(NormalizePath("/a/./b/../c"), "/a/c");
  EXPECT_EQ(NormalizePath("/../../a"), "/a");
  EXPECT_EQ(NormalizePath("/a/b/../.."), "/");
}

TEST(Path, Join) {
  EXPECT_EQ(JoinPath("/home/u", "x/y"), "/home/u/x/y");
  EXPECT_EQ(JoinPath("/home/u", "../v"), "/home/v");
  EXPECT_EQ(JoinPath("/home/u", "/etc"), "/etc");
  EXPECT_EQ(JoinPath("/home/u", ""), "/home/u");
}

TEST(Path, Under) {
  EXPECT_TRUE(PathUnder("/a/b", "/a"));
  EXPECT_TRUE(PathUnder("/a", "/a"));
  EXPECT_FALSE(PathUnder("/ab", "/a"));
  EXPECT_TRUE(PathUnder("/x", "/"));
  EXPECT_FALSE(PathUnder("/", "/a"));
}

}  // namespace
}  // namespace umview
