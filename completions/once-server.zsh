#compdef once-server

__once-server_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__once-server_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __once-server_complete "${completions[@]:0:-1}"
    fi
}

__once-server_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_once-server() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'serve:Serve API v1 over HTTP.'
            'keys:Create, list and revoke API keys.'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        serve|keys|help)
            "_once-server_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_once-server_serve() {
    local -i ret=1
    local -ar ___durability=('full' 'normal')
    local -ar ___log_level=('trace' 'debug' 'info' 'notice' 'warning' 'error' 'critical')
    local -ar ___log_format=('text' 'json')
    local -ar arg_specs=(
        '--host[Address to listen on.]:host:'
        '--port[Port to listen on; 0 picks a free one (the log line tells which).]:port:'
        '--database[The SQLite file (created if missing) or a postgres\://USER\[\:PASS\]@HOST\:PORT/DB\[?sslmode=…\] URL.]:path-or-url:'
        '--duplicate-status-code[Status for a duplicate check-lock\: 200 (default) or 409.]:duplicate-status-code:'
        '--min-ttl[Shortest TTL in seconds a lease or check-lock gets; shorter requests are raised to it.]:min-ttl:'
        '--body-limit[Largest request body in bytes; larger ones get 413.]:body-limit:'
        '--durability[Commit durability\: full (fsync each commit, survives power loss) or normal (survives a crash).]:durability:{__once-server_complete "${___durability[@]}"}'
        '--store-timeout[Seconds a request may wait for PostgreSQL before it gets 503 with Retry-After.]:store-timeout:'
        '--sweep-interval[Seconds between retention sweeps (0 turns them off).]:sweep-interval:'
        '--rate-limit[Requests per second each API key may make (token bucket refill); 0 turns limiting off.]:rate-limit:'
        '--rate-burst[Requests a key may make at once before --rate-limit applies.]:rate-burst:'
        '--secret-key-file[File holding the key that seals tool secrets (64 hex characters, 32 bytes).]:path:'
        '--allow-private-tool-urls[Let tool URLs point at loopback and private addresses (refused by default).]'
        '--log-level[Log level\: trace, debug, info, notice, warning, error, critical.]:log-level:{__once-server_complete "${___log_level[@]}"}'
        '--log-format[Log line format\: text or json (one object a line), on standard error.]:log-format:{__once-server_complete "${___log_format[@]}"}'
        '--dashboard[Serve the dashboard under /ui.]'
        '--no-dashboard[Serve the dashboard under /ui.]'
        '--session-secret-file[A file whose contents (at least 32 bytes) sign dashboard session cookies.]:path:'
        '--session-hours[Hours a dashboard login lasts.]:session-hours:'
        '--metrics-token[Require `Authorization\: Bearer TOKEN` on GET /metrics.]:token:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-server_keys() {
    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'create:Create an API key and print it (only the key, on stdout). It is shown once; only its hash is kept.'
            'list:List API keys (never the secrets).'
            'revoke:Revoke an API key; requests with it then get 403 "API key disabled".'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        create|list|revoke)
            "_once-server_keys_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_once-server_keys_create() {
    local -i ret=1
    local -ar ___plan=('free' 'starter' 'pro' 'agency')
    local -ar arg_specs=(
        '--database[The SQLite file (created if missing) or a postgres\://USER\[\:PASS\]@HOST\:PORT/DB\[?sslmode=…\] URL.]:path-or-url:'
        '--plan[Plan of the new account\: free, starter, pro or agency.]:plan:{__once-server_complete "${___plan[@]}"}'
        '--name[A label for the key (and its account).]:name:'
        '--account[Add the key to this existing account id instead of creating an account.]:account:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-server_keys_list() {
    local -i ret=1
    local -ar arg_specs=(
        '--database[The SQLite file (created if missing) or a postgres\://USER\[\:PASS\]@HOST\:PORT/DB\[?sslmode=…\] URL.]:path-or-url:'
        '--json[Print JSON lines instead of a table.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-server_keys_revoke() {
    local -i ret=1
    local -ar arg_specs=(
        '--database[The SQLite file (created if missing) or a postgres\://USER\[\:PASS\]@HOST\:PORT/DB\[?sslmode=…\] URL.]:path-or-url:'
        ':key:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-server_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _once-server ]]; then
    _once-server "${@}"
else
    compdef _once-server once-server
fi
