import ArgumentParser
import Foundation

/// Shell completion scripts that know `run` is the default subcommand.
///
/// argument-parser completes a default subcommand's options only after its name is typed
/// (`once-exec run --w<TAB>`), but people write `once-exec --wait 5m KEY -- CMD`. Its
/// generated scripts are patched here: where the root command would offer nothing but
/// subcommand names, they now also complete as `once-exec run`. Each patch checks that the
/// text it replaces is there, so a parser upgrade that changes the scripts fails the
/// completion test instead of silently shipping unpatched scripts.
enum CompletionScripts {
    static func script(for shell: CompletionShell) -> String {
        let generated = OnceExecCommand.completionScript(for: shell)
        switch shell {
        case .bash: return patchBash(generated)
        case .zsh: return patchZsh(generated)
        case .fish: return patchFish(generated)
        default: return generated
        }
    }

    static func replacing(_ text: String, _ old: String, _ new: String) -> String {
        guard text.contains(old) else { return text + "\n# once-exec: completion patch did not apply\n" }
        return text.replacingOccurrences(of: old, with: new)
    }

    /// bash: no subcommand word yet (an option, a KEY, or nothing): offer everything
    /// `once-exec run` completes, parsed from the first word on, and in the first word the
    /// subcommand names too.
    static func patchBash(_ s: String) -> String {
        replacing(
            s,
            """
                *)
                    # Offer subcommand completions
                    COMPREPLY+=($(compgen -W 'run status timeline runs help' -- "${cur}"))
                    ;;
            """,
            """
                *)
                    # Offer subcommand completions, and the run options: `run` is the default subcommand
                    COMPREPLY=()
                    unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")
                    _once-exec_run
                    if [[ "${COMP_CWORD}" -eq 1 ]]; then
                        COMPREPLY+=($(compgen -W 'run status timeline runs help' -- "${cur}"))
                    fi
                    ;;
            """)
    }

    /// zsh: once the first word is not a subcommand name (it is an option, or a KEY with more
    /// words after it), complete as `once-exec run`.
    static func patchZsh(_ s: String) -> String {
        replacing(
            s,
            """
                    '(-)*:: :->arg'
                )
                _arguments -w -s -S : "${arg_specs[@]}" && ret=0
            """,
            """
                    '(-)*:: :->arg'
                )
                # `run` is the default subcommand: without one, complete as `once-exec run`
                if [[ "${words[2]}" != (run|status|timeline|runs|help) ]] && { (( CURRENT > 2 )) || [[ "${words[2]}" == -* ]] }; then
                    _once-exec_run
                    return
                fi
                _arguments -w -s -S : "${arg_specs[@]}" && ret=0
            """)
    }

    /// fish: every `once-exec run` option line is repeated for the bare command.
    static func patchFish(_ s: String) -> String {
        let marker = "__once-exec_should_offer_completions_for_flags_or_options \"once-exec run\""
        let extra = s.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { $0.hasPrefix("complete ") && $0.contains(marker) }
            // The bare command has its own --version and --help lines already.
            .filter { !$0.contains("-l 'version'") && !$0.contains("-l 'help'") }
            .map {
                $0.replacingOccurrences(
                    of: marker, with: "__once-exec_should_offer_completions_for_flags_or_options \"once-exec\"")
            }
        guard !extra.isEmpty else { return s + "\n# once-exec: completion patch did not apply\n" }
        let body = s.hasSuffix("\n") ? s : s + "\n"
        return body + "# `run` is the default subcommand: its options complete without it too\n"
            + extra.joined(separator: "\n") + "\n"
    }
}
