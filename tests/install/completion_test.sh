#!/usr/bin/env bash
# completion_test.sh: sources contrib/bash-completion/pmempreload in a plain bash (no bash-completion package) and
# checks what it offers for a few command lines: verbs, a verb's options, option values, heap files, the program
# after `run --`.
# Must never: depend on the user's shell setup (it runs `bash --norc`) or on files outside its temporary directory.
set -u
: "${CLI:?}" "${COMPLETION:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-completion.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/dir/sub"
touch "$T/dir/app.heap" "$T/dir/notes.txt"
export PATH=$(dirname "$CLI"):$PATH
cd "$T" || exit 1
FAILS=0
# expect "WORDS..." "REPLY...": completing the last word of WORDS offers exactly REPLY (sorted)
expect() {
	local got
	got=$(bash --norc --noprofile -c '
		source "$COMPLETION"
		read -r -a COMP_WORDS <<<"$1"
		[[ $1 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_pmempreload
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$1")
	if [ "${got% }" != "$2" ]; then
		echo "FAIL: '$1' completes to '${got% }', wanted '$2'" >&2
		FAILS=$((FAILS + 1))
	fi
}
expect "pmempreload ch" "check"
expect "pmempreload st" "stats strings"
expect "pmempreload --v" "--version"
expect "pmempreload blocks --" "--by-site --free --help --json --limit --min --used"
expect "pmempreload run --k" "--keep"
expect "pmempreload run --keep " "always crash never"
expect "pmempreload run --mode r" "readonly"
expect "pmempreload info dir/" "dir/app.heap dir/sub/"
expect "pmempreload check --json dir/a" "dir/app.heap"
expect "pmempreload run -- pmempreloa" "pmempreload"
expect "pmempreload run --heap x.heap -- pmempreload inf" ""
# every verb of the command's own table is offered
verbs=$("$CLI" --help | awk '/^  [a-z]/ {print $1}' | sort | tr '\n' ' ')
expect "pmempreload " "$(printf '%s\n' ${verbs} --help --version | sort | tr '\n' ' ' | sed 's/ $//')"
if [ "$FAILS" -gt 0 ]; then
	echo "completion: $FAILS checks failed"
	exit 1
fi
echo "completion: ok"
