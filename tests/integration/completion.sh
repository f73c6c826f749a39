#!/usr/bin/env bash
# tests/integration/completion.sh - scripts/ferryctl.bash-completion driven the way bash
# drives it (COMP_WORDS/COMP_CWORD, then _ferryctl): commands, subcommands, global and
# per-command options, option values, and job ids fetched from a real ferryd with the
# --endpoint/--user/--password-file already on the line.
. "$(dirname "$0")/../lib/ferry-test.sh"
ft_need bash
cd "$FT_TMP"

# complete WORD... : the suggestions for the last word, sorted, one line
complete_words() {
    FERRYCTL_COMPLETION_BIN=$FERRYCTL bash -c '
        . "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ferryctl
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' \
        _ "$FERRY_SRC/scripts/ferryctl.bash-completion" "$@"
}

ft_assert_eq "distribute group identify job url user" "$(complete_words ferryctl '')" "commands"
ft_assert_eq "job" "$(complete_words ferryctl j)" "'j'"
ft_assert_eq "--endpoint" "$(complete_words ferryctl --end)" "global option"
ft_assert_eq "add-file cancel complete create error list resume set show suspend wait" \
    "$(complete_words ferryctl --json job '')" "job subcommands after a flag"
ft_assert_eq "create delete list" "$(complete_words ferryctl group '')" "group subcommands"
ft_assert_eq "publish" "$(complete_words ferryctl url p)" "url subcommands"
ft_assert_eq "--suspended" "$(complete_words ferryctl job create --su)" "job create option"
ft_assert_eq "--complete" "$(complete_words ferryctl job wait x --comp)" "job wait option"
ft_assert_eq "--notify-cmd --notify-flags --notify-url" \
    "$(complete_words ferryctl job create --noti)" "job create notify options"
ft_assert_eq "--notify-cmd --notify-flags --notify-url" \
    "$(complete_words ferryctl job set x --noti)" "job set notify options"
ft_assert_eq "" "$(complete_words ferryctl job set x --notify-url '')" "nothing for a URL value"
ft_assert_eq "foreground high low normal" \
    "$(complete_words ferryctl job set x --priority '')" "--priority values"
ft_assert_eq "admin user" "$(complete_words ferryctl user add --role '')" "--role values"
ft_assert_eq "" "$(complete_words ferryctl --endpoint '')" "nothing offered for a URL"

# Job ids from the endpoint named on the line.
mkdir -p "$FT_TMP/in"
ft_ferryd_start a --download-root "$FT_TMP/in"
printf 'admin-pw\n' > pw
C=("$FERRYCTL" --endpoint "$FT_WSMAN_a" --user admin --password-file "$FT_TMP/pw")
port=$(ft_free_port)
one=$("${C[@]}" job create one "http://127.0.0.1:$port/g/a.bin" "$FT_TMP/in/a.bin" --suspended) \
    || ft_fail "job create one"
two=$("${C[@]}" job create two "http://127.0.0.1:$port/g/b.bin" "$FT_TMP/in/b.bin" --suspended) \
    || ft_fail "job create two"
want=$(printf '%s\n' "$one" "$two" | sort | tr '\n' ' ' | sed 's/ $//')
ft_assert_eq "$want" "$(complete_words ferryctl --endpoint "$FT_WSMAN_a" --user admin \
    --password-file "$FT_TMP/pw" job show '')" "job ids for 'job show'"
ft_assert_eq "$one" "$(complete_words ferryctl --endpoint "$FT_WSMAN_a" --user admin \
    --password-file "$FT_TMP/pw" job resume "${one:0:5}")" "job id by prefix"
# the wrong password: no ids, no error text in the suggestions
printf 'wrong\n' > bad
ft_assert_eq "" "$(complete_words ferryctl --endpoint "$FT_WSMAN_a" --user admin \
    --password-file "$FT_TMP/bad" job show '')" "no ids without access"
ft_pass
