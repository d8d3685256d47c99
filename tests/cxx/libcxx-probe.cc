// libcxx-probe.cc: preprocessed at configure time with clang++ -stdlib=libc++; it fails when libc++'s headers are
// missing, which is how tests/cxx/meson.build learns whether to build the libc++ half of the suite.
// Must never: include anything but the headers containers.cc needs from the standard library.
#include <deque>
#include <forward_list>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>
