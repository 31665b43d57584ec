// SPDX-License-Identifier: Apache-2.0
// The thread-local failure detail: what fail() records and what
// fail_with_detail() adds in front of it on the way up.
#include <gtest/gtest.h>

#include <string>

#include "nativepool/status.hpp"

namespace nativepool {
namespace {

TEST(Status, FailRecordsTheDetailAndReturnsTheStatus) {
  EXPECT_EQ(fail(Status::kInvalidFree, "0x%x is not a block", 16), Status::kInvalidFree);
  EXPECT_STREQ(error_detail(), "0x10 is not a block");
  clear_error_detail();
  EXPECT_STREQ(error_detail(), "");
}

TEST(Status, FailWithDetailPrefixesWhatTheLayerBelowSaid) {
  (void)fail(Status::kDoubleFree, "0x40 is already free");
  EXPECT_EQ(fail_with_detail(Status::kDoubleFree, "addresses[%d]", 3), Status::kDoubleFree);
  EXPECT_STREQ(error_detail(), "addresses[3]: 0x40 is already free");
}

TEST(Status, AnOverlongPrefixIsTruncatedNotOverflowed) {
  (void)fail(Status::kInternal, "inner");
  const std::string huge(4096, 'x');
  (void)fail_with_detail(Status::kInternal, "%s", huge.c_str());
  const std::string detail = error_detail();
  EXPECT_LT(detail.size(), huge.size());
  EXPECT_EQ(detail.find_first_not_of('x'), std::string::npos) << "only the prefix fits";
}

}  // namespace
}  // namespace nativepool
