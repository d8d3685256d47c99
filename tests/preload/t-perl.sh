#!/bin/bash
# t-perl.sh: perl builds a 200k-entry hash, sorts, joins, regexes; same output; heap checked.
. "$(dirname "$0")/lib.sh"
compare perl perl -e 'my %h; $h{"k$_"} = [$_, $_ * 3] for 1 .. 200000;
	my @k = sort { $h{$a}[1] <=> $h{$b}[1] } keys %h; my $s = 0; $s += $h{$_}[0] for @k[0 .. 999];
	my $j = join(",", @k[0 .. 50000]); my @m = ($j =~ /k(\d+)7,/g);
	print scalar(@k), " $s ", length($j), " ", scalar(@m), "\n";'
check_heaps 1
landed perl 200000
