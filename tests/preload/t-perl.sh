#!/bin/bash
# t-perl.sh: perl builds a 200k-entry hash, sorts, joins, regexes; same output; heap checked.
. "$(dirname "$0")/lib.sh"
compare perl perl -e 'my %h; $h{"k$_"} = [$_, $_ * 3] for 1 .. 200000;
	my @k = sort { $h{$a}[1] <=> $h{$b}[1] } keys %h; my $s = 0; $s += $h{$_}[0] for @k[0 .. 999];
	my $j = join(",", @k[0 .. 50000]); my @m = ($j =~ /k(\d+)7,/g);
	print scalar(@k), " $s ", length($j), " ", scalar(@m), "\n";'
check_heaps 1
landed perl 200000

# check level 2 (poison, quarantine, incremental checks): the same output, and the heap kept at exit is consistent
# (the exit once marked it clean with blocks still held in the quarantine)
rm -f "$HEAPS"/*
PMEMPRELOAD_CHECK=2:8 compare perl-check2 perl -e 'my %h; $h{"k$_"} = [$_, "v" x ($_ % 50)] for 1 .. 50000;
	delete $h{"k$_"} for grep { $_ % 3 } 1 .. 50000; print scalar(keys %h), "\n";'
check_heaps 1
