/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The other side of a memfd region shared between processes (the example of
 * docs/plugins.md, and the child of plugin_test): maps the region a parent
 * exported (PluginBackend::export_region: fd, offset, length), checks that it
 * reads the parent's message, and answers in the same bytes.
 *
 *   memfd_peer <fd> <offset> <length> <expected message>
 *
 * The fd arrives inherited (the parent dup2's it without FD_CLOEXEC); a
 * process that did not inherit it opens /proc/<pid>/fd/<fd> instead.
 * Exit status: 0 when the message matched and the answer was written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: memfd_peer <fd> <offset> <length> <expected message>\n");
    return 2;
  }
  const int fd = atoi(argv[1]);
  const long long offset = atoll(argv[2]);
  const size_t length = (size_t)atoll(argv[3]);
  char* region = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
  if (region == MAP_FAILED) {
    perror("memfd_peer: mmap");
    return 1;
  }
  const size_t expected = strlen(argv[4]);
  if (expected >= length || memcmp(region, argv[4], expected + 1) != 0) {
    fprintf(stderr, "memfd_peer: the region holds '%.*s', not '%s'\n", 40, region, argv[4]);
    return 1;
  }
  static const char answer[] = "the peer saw it";
  memcpy(region + length - sizeof answer, answer, sizeof answer);
  munmap(region, length);
  return 0;
}
