#!/usr/bin/perl
# An mdBook preprocessor that runs after `gettext` (mdbook-i18n-helpers) in a translated
# build. gettext rebuilds each translated paragraph as Markdown with `[` escaped, so an alert
# such as `> [!NOTE]` (mdBook 0.5's own admonitions, GitHub's syntax) would come out as
# `> \[!NOTE\] text` and be shown as a plain quote. This puts the marker back on a line of
# its own. The English build has no escaped marker, so there it changes nothing.
#
# mdBook protocol: `gfm-alerts.pl supports RENDERER` exits 0 (every renderer), otherwise
# stdin is `[context, book]` as JSON and stdout must be the book.
use strict;
use warnings;
use JSON::PP;

exit 0 if @ARGV && $ARGV[0] eq 'supports';

my $json = JSON::PP->new->utf8->canonical;
my $input = do { local $/; <STDIN> };
my ($context, $book) = @{ $json->decode($input) };

sub restore {
    my ($text) = @_;
    my $kind = qr/NOTE|TIP|IMPORTANT|WARNING|CAUTION/;
    # gettext writes a quote as ` > ` lines, the first of them empty, then
    # ` > \[!KIND\] text`: the marker must open the quote, on a line of its own.
    $text =~ s/^([ \t]*>)[ \t]*\n(?=[ \t]*>[ \t]?\\\[!(?:$kind)\\\])//mg;
    $text =~ s/^([ \t]*>)[ \t]?\\\[!($kind)\\\][ \t]*(\S)/$1 [!$2]\n$1 $3/mg;
    $text =~ s/^([ \t]*>)[ \t]?\\\[!($kind)\\\][ \t]*$/$1 [!$2]/mg;
    return $text;
}

sub walk {
    my ($node) = @_;
    if (ref $node eq 'HASH') {
        for my $key (keys %$node) {
            if ($key eq 'content' && !ref $node->{$key}) {
                $node->{$key} = restore($node->{$key});
            } else {
                walk($node->{$key});
            }
        }
    } elsif (ref $node eq 'ARRAY') {
        walk($_) for @$node;
    }
}

walk($book);
print $json->encode($book);
