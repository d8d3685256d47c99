# hash_sort.pl N: a perl workload for scripts/bench.sh: fill a hash with N keys (strings and array refs), sort it by
# value and by key, build joined strings, delete a third and refill; prints a checksum that is the same under every
# allocator. Must never: read the clock, print anything that varies between runs, or touch files.
use strict;
use warnings;

my $n = shift // 300000;
my $s = 12345;
sub rnd { $s = ($s * 1103515245 + 12345) % 2147483648; return $s; }

my %h;
for my $i (0 .. $n - 1) {
    my $r = rnd();
    $h{sprintf("key-%010d-%d", $r, $i)} = [$r % 1000, "v" . ($i % 97), $i * 3];
}
my @by_value = sort { $h{$a}[0] <=> $h{$b}[0] or $a cmp $b } keys %h;
my @by_key = sort keys %h;
my %groups;
push @{ $groups{ $h{$_}[0] } }, $h{$_}[1] . substr($_, -3) for @by_key;
my $joined = 0;
$joined += length(join(",", @{ $groups{$_} })) for keys %groups;
for my $i (0 .. $#by_key) { delete $h{ $by_key[$i] } if $i % 3 == 0; }
$h{"new-$_"} = { a => $_, b => [ ($_) x ($_ % 7) ], c => "$_" x 2 } for 0 .. int($n / 3) - 1;
my $c = 0;
for (my $i = 0; $i < @by_value; $i += ($n > 1000 ? int($n / 1000) : 1)) {
    $c = ($c * 31 + length($by_value[$i]) + ord($by_value[$i])) % 1000000007;
}
print scalar(keys %h), " ", scalar(keys %groups), " $joined $by_key[0] $c\n";
