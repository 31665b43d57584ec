// SPDX-License-Identifier: Apache-2.0
// Files for the persistent heap's tests: a fresh directory (on tmpfs where
// there is one, so thousands of reopens stay fast), and whole-file reads and
// writes for the tests that damage or compare heap files.
#pragma once

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace nativepool::persistent_files {

inline std::string temp_directory(const char* prefix) {
  std::string pattern = (access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : "/tmp/") + std::string(prefix) + "-XXXXXX";
  return mkdtemp(pattern.data());
}

inline std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace nativepool::persistent_files
