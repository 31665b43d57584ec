# SPDX-License-Identifier: Apache-2.0
# Optional system components. Each one found here is compiled in; the library
# still reports at run time whether it is usable (features.hpp).
find_package(Threads REQUIRED)
