#!/bin/bash
# t-gxx.sh: g++ compiles a small C++ program under the preload (cc1plus, as, ld, collect2 each with a heap);
# the program built under the preload prints the same as the one built without; every heap checked.
. "$(dirname "$0")/lib.sh"
cat >"$T/hello.cc" <<'CEOF'
#include <iostream>
#include <map>
#include <string>
#include <algorithm>
#include <vector>
int main() {
	std::map<std::string, int> m;
	for (int i = 0; i < 1000; i++) m["k" + std::to_string(i % 97)] += i;
	std::vector<int> v;
	for (auto &kv : m) v.push_back(kv.second);
	std::sort(v.begin(), v.end());
	std::cout << m.size() << " " << v.front() << " " << v.back() << std::endl;
}
CEOF
g++ -O1 -o "$T/hello.plain" "$T/hello.cc"
pre g++ -O1 -o "$T/hello.pre" "$T/hello.cc" 2>"$T/gxx.pre.err" || { cat "$T/gxx.pre.err" >&2; fail "g++ failed under the preload"; }
[ "$("$T/hello.plain")" = "$("$T/hello.pre")" ] || fail "program built under the preload prints differently"
echo "g++: built program output identical: $("$T/hello.pre")"
check_heaps 3
landed cc1plus 20000
