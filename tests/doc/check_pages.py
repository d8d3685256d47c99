#!/usr/bin/env python3
"""check_pages.py: the doc suite: the rendered man pages document everything a user can name.

  check_pages.py CLI HEADER OPTIONS_C PAGE1 PAGE3 PAGE7

- every verb of `CLI --help` (the command's own verb table) has a section "## VERB" in pmempreload(1), and every
  --option of its usage line appears in that section;
- every PMP_API function of HEADER is named in bold in pmempreload(3);
- every PMEMPRELOAD_* variable of the descriptor table in OPTIONS_C is named in bold in pmempreload(7);
- every page renders with groff without a warning.
Must never: keep its own list of verbs, functions or variables: each is read from where the code defines it, so a
verb, function or variable added later fails here until it is documented.
"""
import re
import subprocess
import sys

cli, header, options_c, page1, page3, page7 = sys.argv[1:7]
problems = []
read = lambda path: open(path, encoding="utf-8").read()
bold = lambda name: "\\fB" + name + "\\fR"

# verbs and their options, from the command's usage text: "  VERB ARGS" then an indented help line
usage = subprocess.run([cli, "--help"], capture_output=True, text=True, check=True).stdout
verbs = re.findall(r"^  ([a-z][a-z0-9-]*) +(.*)$", usage, re.M)
if len(verbs) < 10:
    problems.append(f"only {len(verbs)} verbs read from `{cli} --help`: the usage format changed?")
man1 = read(page1)
sections = dict(re.findall(r"^\.SS (\S+)\n(.*?)(?=^\.S[SH] |\Z)", man1, re.M | re.S))
for verb, args in verbs:
    if verb not in sections:
        problems.append(f"pmempreload(1): no section for the verb '{verb}'")
        continue
    text = sections[verb].replace("\\-", "-")
    for opt in sorted(set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", args))):
        if opt not in text:
            problems.append(f"pmempreload(1): verb '{verb}' does not document its option {opt}")

# API functions: the name right before "(" on each PMP_API line
functions = re.findall(r"^PMP_API\b[^(]*?\b(pmp_\w+)\(", read(header), re.M)
if len(functions) < 20:
    problems.append(f"only {len(functions)} PMP_API functions read from {header}")
man3 = read(page3)
problems += [f"pmempreload(3): {f} is not documented" for f in functions if bold(f) not in man3]

# preload variables: the names of the descriptor table
variables = re.findall(r'^\s*\{"(PMEMPRELOAD_\w+)"', read(options_c), re.M)
if len(variables) < 10:
    problems.append(f"only {len(variables)} variables read from {options_c}")
man7 = read(page7)
problems += [f"pmempreload(7): {v} is not documented" for v in variables if bold(v) not in man7]

for page in (page1, page3, page7):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True, text=True)
    if r.returncode or r.stderr.strip():
        problems.append(f"{page}: groff: {r.stderr.strip() or 'exit %d' % r.returncode}")

for p in problems:
    print("FAIL:", p)
print(f"doc: {len(verbs)} verbs, {len(functions)} functions, {len(variables)} variables; "
      f"{len(problems)} problems")
sys.exit(1 if problems else 0)
