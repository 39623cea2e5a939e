//! Shell completion scripts: clap's static scripts, plus what clap cannot know statically (the
//! stack file's addresses for `--target`, its output names for `output`), which the scripts ask
//! the hidden `deploy __complete` for. clap_complete's own dynamic engine is still behind an
//! unstable feature; this uses only its stable generators.

use clap_complete::Shell;

use crate::cli::CompleteWhat;
use crate::stack::Stack;

/// The words `deploy __complete WHAT` prints, one per line.
pub fn words(stack: &Stack, what: CompleteWhat) -> Vec<String> {
    match what {
        CompleteWhat::Targets => {
            let mut out: Vec<String> = crate::resources::nodes(stack)
                .into_iter()
                .map(|d| d.address)
                .collect();
            out.sort();
            out.dedup();
            out
        }
        CompleteWhat::Outputs => stack.outputs.keys().cloned().collect(),
    }
}

/// The completion script for `shell`: clap's, and for bash, zsh and fish the dynamic words.
pub fn script(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "deploy", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    match shell {
        Shell::Bash => format!("{script}\n{BASH}"),
        Shell::Fish => format!("{script}\n{FISH}"),
        Shell::Zsh => zsh(&script),
        _ => script,
    }
}

/// The stack file from the words typed so far (`-f FILE`, `--file FILE`, `--file=FILE`), then the
/// words; a wrapper around clap's `_deploy`.
const BASH: &str = r#"# The stack file's addresses after --target, its output names after `output` (deploy __complete).
_deploy_words() {
    local file=stack.yaml i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -f | --file) file="${COMP_WORDS[i + 1]}" ;;
            --file=*) file="${COMP_WORDS[i]#--file=}" ;;
        esac
    done
    deploy -f "$file" __complete "$1" 2>/dev/null
}
_deploy_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}" sub="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -f | --file | --profile | --region | --endpoint-url | --db-endpoint) ((i++)) ;;
            -*) ;;
            *) sub="${COMP_WORDS[i]}"; break ;;
        esac
    done
    local IFS=$'\n'
    if [[ $prev == --target && $sub =~ ^(plan|apply|destroy)$ ]]; then
        COMPREPLY=($(compgen -W "$(_deploy_words targets)" -- "$cur"))
        return 0
    fi
    if [[ $sub == output && $cur != -* && $prev != --format ]]; then
        COMPREPLY=($(compgen -W "$(_deploy_words outputs)" -- "$cur"))
        return 0
    fi
    unset IFS
    _deploy "$@"
}
complete -F _deploy_dynamic -o bashdefault -o default deploy
"#;

const FISH: &str = r#"# The stack file's addresses after --target, its output names after `output` (deploy __complete).
function __deploy_words
    set -l tokens (commandline -opc)
    set -l file stack.yaml
    for i in (seq (count $tokens))
        if contains -- $tokens[$i] -f --file; and test $i -lt (count $tokens)
            set file $tokens[(math $i + 1)]
        end
    end
    deploy -f $file __complete $argv 2>/dev/null
end
complete -c deploy -n '__fish_seen_subcommand_from plan apply destroy' -l target -x -a '(__deploy_words targets)'
complete -c deploy -n '__fish_seen_subcommand_from output' -x -a '(__deploy_words outputs)'
"#;

/// clap's zsh script completes `--target` and `output`'s name with `_default` (files): those
/// actions become functions that ask `deploy __complete`.
fn zsh(script: &str) -> String {
    let script = script
        .replace(":ADDR:_default'", ":ADDR:_deploy_targets'")
        .replace(
            "'::name -- Print only this output'\\''s value:_default'",
            "'::name -- Print only this output'\\''s value:_deploy_outputs'",
        );
    let functions = r#"
# The stack file's addresses after --target, its output names after `output` (deploy __complete).
(( $+functions[_deploy_words] )) ||
_deploy_words() {
    local file=stack.yaml
    local -i i
    for (( i = 2; i < CURRENT; i++ )); do
        case ${words[i]} in
            -f|--file) file=${words[i+1]} ;;
            --file=*) file=${words[i]#--file=} ;;
        esac
    done
    local -a found
    found=(${(f)"$(deploy -f $file __complete $1 2>/dev/null)"})
    compadd -a found
}
(( $+functions[_deploy_targets] )) || _deploy_targets() { _deploy_words targets }
(( $+functions[_deploy_outputs] )) || _deploy_outputs() { _deploy_words outputs }
"#;
    // Before the last line (`_deploy "$@"` under a compdef guard): defined when sourced.
    match script.rfind("\nif [ \"$funcstack[1]\" = \"_deploy\" ]") {
        Some(i) => format!("{}{functions}{}", &script[..i], &script[i..]),
        None => format!("{script}{functions}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zsh_script_asks_deploy_for_addresses_and_outputs() {
        let s = script(Shell::Zsh);
        assert!(!s.contains(":ADDR:_default'"), "every --target is dynamic");
        assert_eq!(
            s.matches(":ADDR:_deploy_targets'").count(),
            3,
            "plan, apply, destroy"
        );
        assert!(s.contains("value:_deploy_outputs'"));
        assert!(s.contains("_deploy_targets() { _deploy_words targets }"));
    }

    #[test]
    fn bash_and_fish_scripts_ask_deploy_for_the_words() {
        assert!(script(Shell::Bash).contains("complete -F _deploy_dynamic"));
        assert!(script(Shell::Fish).contains("(__deploy_words targets)"));
    }
}
