// doctest's main, after raising the open-files limit to its hard limit: the fakes of a
// throughput suite hold hundreds of connections at once.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sys/resource.h>

int main(int argc, char** argv) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }
  return doctest::Context(argc, argv).run();
}
