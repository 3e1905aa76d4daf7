function __once-server_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __once-server_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __once-server_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __once-server_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __once-server_parse_tokens -S
    set -l unparsed_tokens (__once-server_tokens -pc)
    switch $unparsed_tokens[1]
    case 'once-server'
        __once-server_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'serve'
            __once-server_parse_subcommand 0 'host=' 'port=' 'database=' 'duplicate-status-code=' 'min-ttl=' 'body-limit=' 'durability=' 'store-timeout=' 'sweep-interval=' 'rate-limit=' 'rate-burst=' 'secret-key-file=' 'allow-private-tool-urls' 'log-level=' 'log-format=' 'dashboard' 'no-dashboard' 'session-secret-file=' 'session-hours=' 'metrics-token=' 'version' 'h/help'
        case 'keys'
            __once-server_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'create'
                __once-server_parse_subcommand 0 'database=' 'plan=' 'name=' 'account=' 'version' 'h/help'
            case 'list'
                __once-server_parse_subcommand 0 'database=' 'json' 'version' 'h/help'
            case 'revoke'
                __once-server_parse_subcommand 1 'database=' 'version' 'h/help'
            end
        case 'help'
            __once-server_parse_subcommand -r 1 'version'
        end
    end
end

function __once-server_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __once-server_parse_subcommand -S -a positional_count
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

function __once-server_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __once-server_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__once-server_tokens -p)
    if test -z "$(__once-server_tokens -t)"
        set -l index (count (__once-server_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'once-server' -f
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server" -eq 1' -fa 'serve' -d 'Serve API v1 over HTTP.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server" -eq 1' -fa 'keys' -d 'Create, list and revoke API keys.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" host' -l 'host' -d 'Address to listen on.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" port' -l 'port' -d 'Port to listen on; 0 picks a free one (the log line tells which).' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" database' -l 'database' -d 'The SQLite file (created if missing) or a postgres://USER[:PASS]@HOST:PORT/DB[?sslmode=…] URL.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" duplicate-status-code' -l 'duplicate-status-code' -d 'Status for a duplicate check-lock: 200 (default) or 409.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" min-ttl' -l 'min-ttl' -d 'Shortest TTL in seconds a lease or check-lock gets; shorter requests are raised to it.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" body-limit' -l 'body-limit' -d 'Largest request body in bytes; larger ones get 413.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" durability' -l 'durability' -d 'Commit durability: full (fsync each commit, survives power loss) or normal (survives a crash).' -rfka 'full normal'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" store-timeout' -l 'store-timeout' -d 'Seconds a request may wait for PostgreSQL before it gets 503 with Retry-After.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" sweep-interval' -l 'sweep-interval' -d 'Seconds between retention sweeps (0 turns them off).' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" rate-limit' -l 'rate-limit' -d 'Requests per second each API key may make (token bucket refill); 0 turns limiting off.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" rate-burst' -l 'rate-burst' -d 'Requests a key may make at once before --rate-limit applies.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" secret-key-file' -l 'secret-key-file' -d 'File holding the key that seals tool secrets (64 hex characters, 32 bytes).' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" allow-private-tool-urls' -l 'allow-private-tool-urls' -d 'Let tool URLs point at loopback and private addresses (refused by default).'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" log-level' -l 'log-level' -d 'Log level: trace, debug, info, notice, warning, error, critical.' -rfka 'trace debug info notice warning error critical'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" log-format' -l 'log-format' -d 'Log line format: text or json (one object a line), on standard error.' -rfka 'text json'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" dashboard' -l 'dashboard' -d 'Serve the dashboard under /ui.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" no-dashboard' -l 'no-dashboard' -d 'Serve the dashboard under /ui.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" session-secret-file' -l 'session-secret-file' -d 'A file whose contents (at least 32 bytes) sign dashboard session cookies.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" session-hours' -l 'session-hours' -d 'Hours a dashboard login lasts.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" metrics-token' -l 'metrics-token' -d 'Require `Authorization: Bearer TOKEN` on GET /metrics.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server serve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server keys" -eq 1' -fa 'create' -d 'Create an API key and print it (only the key, on stdout). It is shown once; only its hash is kept.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server keys" -eq 1' -fa 'list' -d 'List API keys (never the secrets).'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_positional "once-server keys" -eq 1' -fa 'revoke' -d 'Revoke an API key; requests with it then get 403 "API key disabled".'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" database' -l 'database' -d 'The SQLite file (created if missing) or a postgres://USER[:PASS]@HOST:PORT/DB[?sslmode=…] URL.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" plan' -l 'plan' -d 'Plan of the new account: free, starter, pro or agency.' -rfka 'free starter pro agency'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" name' -l 'name' -d 'A label for the key (and its account).' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" account' -l 'account' -d 'Add the key to this existing account id instead of creating an account.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys create" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys list" database' -l 'database' -d 'The SQLite file (created if missing) or a postgres://USER[:PASS]@HOST:PORT/DB[?sslmode=…] URL.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys list" json' -l 'json' -d 'Print JSON lines instead of a table.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys list" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys revoke" database' -l 'database' -d 'The SQLite file (created if missing) or a postgres://USER[:PASS]@HOST:PORT/DB[?sslmode=…] URL.' -rfka ''
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys revoke" version' -l 'version' -d 'Show the version.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server keys revoke" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'once-server' -n '__once-server_should_offer_completions_for_flags_or_options "once-server help" version' -l 'version' -d 'Show the version.'
