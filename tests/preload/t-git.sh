#!/bin/bash
# t-git.sh: git init, add, commit in a temporary repository under the preload; same commit ids; heaps checked.
. "$(dirname "$0")/lib.sh"
export HOME=$T GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
cat >"$T/git.sh" <<'GEOF'
set -e
d=$1
rm -rf "$d"; mkdir -p "$d"; cd "$d"
git init -q -b main .
for i in $(seq 1 200); do echo "file $i $(seq 1 $i | tr '\n' ' ')" > "f$i.txt"; done
mkdir sub; cp f1*.txt sub/
git add .
git commit -q -m "first"
echo change >> f7.txt
git commit -q -am "second"
git log --format='%H %s'
git ls-tree -r HEAD | wc -l
git diff HEAD~1 --stat
GEOF
compare git bash "$T/git.sh" "$T/repo"
check_heaps 3
landed git 1000
