function __once-exec_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __once-exec_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __once-exec_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __once-exec_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __once-exec_parse_tokens -S
    set -l unparsed_tokens (__once-exec_tokens -pc)
    switch $unparsed_tokens[1]
    case 'once-exec'
        __once-exec_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'run'
            __once-exec_parse_subcommand -r 2 'server=' 'state=' 'busy-timeout=' 'ttl=' 'heartbeat=' 'kill-after=' 'max-runtime=' 'wait=' 'join' 'retry-failed' 'replay' 'on-lease-lost=' 'if-unreachable=' 'capture=' 'shell' 'pass-api-key' 'tz=' 'slot-time=' 'exit-code=+' 'json' 'q/quiet' 'v/verbose' 'version' 'h/help'
        case 'status'
            __once-exec_parse_subcommand 1 'server=' 'state=' 'busy-timeout=' 'tz=' 'json' 'version' 'h/help'
        case 'timeline'
            __once-exec_parse_subcommand 1 'server=' 'state=' 'busy-timeout=' 'key=' 'json' 'version' 'h/help'
        case 'runs'
            __once-exec_parse_subcommand 0 'server=' 'state=' 'busy-timeout=' 'key=' 'failed' 'since=' 'limit=' 'json' 'version' 'h/help'
        case 'help'
            __once-exec_parse_subcommand -r 1 'version'
        end
    end
end

function __once-exec_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __once-exec_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __once-exec_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __once-exec_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__once-exec_tokens -p)
    if test -z "$(__once-exec_tokens -t)"
        set -l index (count (__once-exec_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'once-exec' -f
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" version' -l 'version' -d 'Show the version.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_positional "once-exec" -eq 1' -fa 'run' -d 'Run COMMAND once for KEY (the default: `once-exec KEY -- COMMAND` means `once-exec run KEY -- COMMAND`).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_positional "once-exec" -eq 1' -fa 'status' -d 'Show KEY\'s state and its last run\'s record.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_positional "once-exec" -eq 1' -fa 'timeline' -d 'Show a run\'s timeline of events (by run id, or the last run of --key).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_positional "once-exec" -eq 1' -fa 'runs' -d 'List recent runs across keys, newest first (one line per attempt).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_positional "once-exec" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" server' -l 'server' -d 'once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" state' -l 'state' -d 'Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" busy-timeout' -l 'busy-timeout' -d 'How long to wait for another process that holds the local store\'s file before giving up (exit 205 busy).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" ttl' -l 'ttl' -d 'Lease TTL in seconds; the lease is renewed every TTL/3 while COMMAND runs.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" heartbeat' -l 'heartbeat' -d 'Time between renewals (default: TTL/3; at least 100ms).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" kill-after' -l 'kill-after' -d 'Grace between SIGTERM and SIGKILL when once-exec stops COMMAND.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" max-runtime' -l 'max-runtime' -d 'Stop COMMAND after this long and fail the run (0: no limit).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" wait' -l 'wait' -d 'If another run holds KEY, wait for it (up to DURATION; a bare --wait waits without limit).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" join' -l 'join' -d 'With --wait: when the other run finishes, take its outcome (exit code and output) instead of running.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" retry-failed' -l 'retry-failed' -d 'Run again if KEY\'s last run failed (by default a failed KEY is not retried).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" replay' -l 'replay' -d 'If KEY already completed, print its stored output (see --capture) and exit with its code.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" on-lease-lost' -l 'on-lease-lost' -d 'When the lease is lost: stop (SIGTERM the group, then SIGKILL) or warn.' -rfka 'stop warn'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" if-unreachable' -l 'if-unreachable' -d 'When the lease service cannot be reached at start: fail, skip (exit 0) or run without a lease.' -rfka 'fail skip run'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" capture' -l 'capture' -d 'Keep the last N bytes of stdout and of stderr in the run record.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" shell' -l 'shell' -d 'Run COMMAND through /bin/sh -c (joined with spaces). By default no shell is involved.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" pass-api-key' -l 'pass-api-key' -d 'Pass ONCEONLY_API_KEY on to COMMAND (by default COMMAND does not see once-exec\'s credential).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" tz' -l 'tz' -d 'Time zone for {date}, {hour}, {week}, {month} in KEY.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" slot-time' -l 'slot-time' -d 'The slot\'s time for KEY placeholders (ISO 8601, e.g. the scheduled time); default now.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run"' -l 'exit-code' -d 'Remap an outcome\'s exit code, e.g. held=1 (repeatable). Outcomes: completed held failed lost unreachable skipped refused timeout busy spawn internal.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" json' -l 'json' -d 'Print one JSON summary object on stdout when done.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" q quiet' -l 'quiet' -s 'q' -d 'Say nothing when skipping.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" v verbose' -l 'verbose' -s 'v' -d 'Report waits, failed or late renewals and retries on stderr.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" version' -l 'version' -d 'Show the version.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" server' -l 'server' -d 'once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" state' -l 'state' -d 'Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" busy-timeout' -l 'busy-timeout' -d 'How long to wait for another process that holds the local store\'s file before giving up (exit 205 busy).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" tz' -l 'tz' -d 'Time zone for placeholders in KEY.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" json' -l 'json' -d 'Print JSON.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" version' -l 'version' -d 'Show the version.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" server' -l 'server' -d 'once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" state' -l 'state' -d 'Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" busy-timeout' -l 'busy-timeout' -d 'How long to wait for another process that holds the local store\'s file before giving up (exit 205 busy).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" key' -l 'key' -d 'Show the last run of this key instead of a run id.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" json' -l 'json' -d 'Print JSON.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" version' -l 'version' -d 'Show the version.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec timeline" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" server' -l 'server' -d 'once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" state' -l 'state' -d 'Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" busy-timeout' -l 'busy-timeout' -d 'How long to wait for another process that holds the local store\'s file before giving up (exit 205 busy).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" key' -l 'key' -d 'Only keys that start with PREFIX.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" failed' -l 'failed' -d 'Only runs that did not complete (failed, timeout, lost, canceled, interrupted, expired).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" since' -l 'since' -d 'Only runs started within this long (e.g. 24h, 30m, 7d).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" limit' -l 'limit' -d 'At most this many runs (1-1000).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" json' -l 'json' -d 'Print JSON.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" version' -l 'version' -d 'Show the version.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec runs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec help" version' -l 'version' -d 'Show the version.'
# `run` is the default subcommand: its options complete without it too
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" server' -l 'server' -d 'once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" state' -l 'state' -d 'Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" busy-timeout' -l 'busy-timeout' -d 'How long to wait for another process that holds the local store\'s file before giving up (exit 205 busy).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" ttl' -l 'ttl' -d 'Lease TTL in seconds; the lease is renewed every TTL/3 while COMMAND runs.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" heartbeat' -l 'heartbeat' -d 'Time between renewals (default: TTL/3; at least 100ms).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" kill-after' -l 'kill-after' -d 'Grace between SIGTERM and SIGKILL when once-exec stops COMMAND.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" max-runtime' -l 'max-runtime' -d 'Stop COMMAND after this long and fail the run (0: no limit).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" wait' -l 'wait' -d 'If another run holds KEY, wait for it (up to DURATION; a bare --wait waits without limit).' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" join' -l 'join' -d 'With --wait: when the other run finishes, take its outcome (exit code and output) instead of running.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" retry-failed' -l 'retry-failed' -d 'Run again if KEY\'s last run failed (by default a failed KEY is not retried).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" replay' -l 'replay' -d 'If KEY already completed, print its stored output (see --capture) and exit with its code.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" on-lease-lost' -l 'on-lease-lost' -d 'When the lease is lost: stop (SIGTERM the group, then SIGKILL) or warn.' -rfka 'stop warn'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" if-unreachable' -l 'if-unreachable' -d 'When the lease service cannot be reached at start: fail, skip (exit 0) or run without a lease.' -rfka 'fail skip run'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" capture' -l 'capture' -d 'Keep the last N bytes of stdout and of stderr in the run record.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" shell' -l 'shell' -d 'Run COMMAND through /bin/sh -c (joined with spaces). By default no shell is involved.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" pass-api-key' -l 'pass-api-key' -d 'Pass ONCEONLY_API_KEY on to COMMAND (by default COMMAND does not see once-exec\'s credential).'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" tz' -l 'tz' -d 'Time zone for {date}, {hour}, {week}, {month} in KEY.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" slot-time' -l 'slot-time' -d 'The slot\'s time for KEY placeholders (ISO 8601, e.g. the scheduled time); default now.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec"' -l 'exit-code' -d 'Remap an outcome\'s exit code, e.g. held=1 (repeatable). Outcomes: completed held failed lost unreachable skipped refused timeout busy spawn internal.' -rfka ''
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" json' -l 'json' -d 'Print one JSON summary object on stdout when done.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" q quiet' -l 'quiet' -s 'q' -d 'Say nothing when skipping.'
complete -c 'once-exec' -n '__once-exec_should_offer_completions_for_flags_or_options "once-exec" v verbose' -l 'verbose' -s 'v' -d 'Report waits, failed or late renewals and retries on stderr.'
