#include <gtest/gtest.h>
#include "nativepool/host_backend.hpp"
#include "nativepool/pool.hpp"
TEST(Smoke, Mmap) { nativepool::MmapBackend b(true); void* p=nullptr; ASSERT_EQ(b.allocate(1<<20, 1<<16, &p), nativepool::Status::kOk); EXPECT_EQ(reinterpret_cast<uintptr_t>(p)%(1<<16),0u); b.deallocate(p,1<<20,1<<16);}
