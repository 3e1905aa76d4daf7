#compdef once-exec

__once-exec_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__once-exec_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __once-exec_complete "${completions[@]:0:-1}"
    fi
}

__once-exec_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_once-exec() {
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
    # `run` is the default subcommand: without one, complete as `once-exec run`
    if [[ "${words[2]}" != (run|status|timeline|runs|help) ]] && { (( CURRENT > 2 )) || [[ "${words[2]}" == -* ]] }; then
        _once-exec_run
        return
    fi
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'run:Run COMMAND once for KEY (the default: `once-exec KEY -- COMMAND` means `once-exec run KEY -- COMMAND`).'
            'status:Show KEY'\''s state and its last run'\''s record.'
            'timeline:Show a run'\''s timeline of events (by run id, or the last run of --key).'
            'runs:List recent runs across keys, newest first (one line per attempt).'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        run|status|timeline|runs|help)
            "_once-exec_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_once-exec_run() {
    local -i ret=1
    local -ar ___on_lease_lost=('stop' 'warn')
    local -ar ___if_unreachable=('fail' 'skip' 'run')
    local -ar arg_specs=(
        '--server[once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.]:url:'
        '--state[Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).]:path:'
        '--busy-timeout[How long to wait for another process that holds the local store'\''s file before giving up (exit 205 busy).]:duration:'
        '--ttl[Lease TTL in seconds; the lease is renewed every TTL/3 while COMMAND runs.]:ttl:'
        '--heartbeat[Time between renewals (default\: TTL/3; at least 100ms).]:duration:'
        '--kill-after[Grace between SIGTERM and SIGKILL when once-exec stops COMMAND.]:duration:'
        '--max-runtime[Stop COMMAND after this long and fail the run (0\: no limit).]:duration:'
        '--wait[If another run holds KEY, wait for it (up to DURATION; a bare --wait waits without limit).]:duration:'
        '--join[With --wait\: when the other run finishes, take its outcome (exit code and output) instead of running.]'
        '--retry-failed[Run again if KEY'\''s last run failed (by default a failed KEY is not retried).]'
        '--replay[If KEY already completed, print its stored output (see --capture) and exit with its code.]'
        '--on-lease-lost[When the lease is lost\: stop (SIGTERM the group, then SIGKILL) or warn.]:on-lease-lost:{__once-exec_complete "${___on_lease_lost[@]}"}'
        '--if-unreachable[When the lease service cannot be reached at start\: fail, skip (exit 0) or run without a lease.]:if-unreachable:{__once-exec_complete "${___if_unreachable[@]}"}'
        '--capture[Keep the last N bytes of stdout and of stderr in the run record.]:bytes:'
        '--shell[Run COMMAND through /bin/sh -c (joined with spaces). By default no shell is involved.]'
        '--pass-api-key[Pass ONCEONLY_API_KEY on to COMMAND (by default COMMAND does not see once-exec'\''s credential).]'
        '--tz[Time zone for {date}, {hour}, {week}, {month} in KEY.]:zone:'
        '--slot-time[The slot'\''s time for KEY placeholders (ISO 8601, e.g. the scheduled time); default now.]:time:'
        '*--exit-code[Remap an outcome'\''s exit code, e.g. held=1 (repeatable). Outcomes\: completed held failed lost unreachable skipped refused timeout busy spawn internal.]:outcome=n:'
        '--json[Print one JSON summary object on stdout when done.]'
        '(--quiet -q)'{--quiet,-q}'[Say nothing when skipping.]'
        '(--verbose -v)'{--verbose,-v}'[Report waits, failed or late renewals and retries on stderr.]'
        ':key:'
        '*:command:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-exec_status() {
    local -i ret=1
    local -ar arg_specs=(
        '--server[once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.]:url:'
        '--state[Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).]:path:'
        '--busy-timeout[How long to wait for another process that holds the local store'\''s file before giving up (exit 205 busy).]:duration:'
        '--tz[Time zone for placeholders in KEY.]:zone:'
        '--json[Print JSON.]'
        ':key:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-exec_timeline() {
    local -i ret=1
    local -ar arg_specs=(
        '--server[once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.]:url:'
        '--state[Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).]:path:'
        '--busy-timeout[How long to wait for another process that holds the local store'\''s file before giving up (exit 205 busy).]:duration:'
        '--key[Show the last run of this key instead of a run id.]:key:'
        '--json[Print JSON.]'
        ':run-id:'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-exec_runs() {
    local -i ret=1
    local -ar arg_specs=(
        '--server[once-server base URL (default $ONCEONLY_BASE_URL); without one, leases live in the local --state file.]:url:'
        '--state[Local lease store (default $XDG_STATE_HOME/once/once-exec.sqlite).]:path:'
        '--busy-timeout[How long to wait for another process that holds the local store'\''s file before giving up (exit 205 busy).]:duration:'
        '--key[Only keys that start with PREFIX.]:prefix:'
        '--failed[Only runs that did not complete (failed, timeout, lost, canceled, interrupted, expired).]'
        '--since[Only runs started within this long (e.g. 24h, 30m, 7d).]:duration:'
        '--limit[At most this many runs (1-1000).]:limit:'
        '--json[Print JSON.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_once-exec_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _once-exec ]]; then
    _once-exec "${@}"
else
    compdef _once-exec once-exec
fi