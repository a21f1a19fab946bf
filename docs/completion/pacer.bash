# bash completion for pacer, the pacer command line (installed as
# share/bash-completion/completions/pacer). Commands and options are read from
# `pacer --help` and `pacer COMMAND --help`, so they stay those of the pacer installed.

_pacer_commands()
{
    "$1" --help 2>/dev/null | awk '/^commands:/ {on = 1; next}
                                   on && /^$/ {exit}
                                   on && /^  [a-z]/ {print $1}'
}

_pacer_options()
{
    "$@" --help 2>&1 | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

_pacer()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
    fi
    local pacer=${words[0]}

    # Options that take a value: complete the value, or nothing.
    case $prev in
        --csv|--out|--cursor|--key)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --state-dir)
            COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --server-key)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        --format)
            COMPREPLY=($(compgen -W "html md csv json" -- "$cur")); return ;;
        --time-zone)
            COMPREPLY=($(compgen -W "local $(cd /usr/share/zoneinfo 2>/dev/null &&
                find . -type f -name '[A-Z]*' | sed 's|^\./||')" -- "$cur")); return ;;
        --endpoint|--query|--publish|--timeout|--connect-timeout|--period|--scope|--metric|\
        --now|--at|--author|--reason|--id|--limit|--from|--since|--until|--webhook|--header|\
        --level|--interval|--product-line|--target|--floor|--stretch|--currency|--weights|\
        --method|--name|--batch|--inflight|--delimiter|--encoding|--set|--type|--id-prefix|\
        --as-of|--as-of-seq|--count|--severity|--prefix|--kind|--curve|--history-periods|\
        --max-attempts|--max-backoff|--request-timeout|--map)
            return ;;
    esac

    # The command (and target's subcommand) after the common options.
    local i cmd= sub=
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --endpoint|--query|--publish|--timeout|--connect-timeout|--time-zone|--key|--server-key)
                [[ -z $cmd ]] && ((i++)) ;;
            -*) ;;
            *)  if [[ -z $cmd ]]; then cmd=${words[i]}
                elif [[ $cmd == target && -z $sub ]]; then sub=${words[i]}; break
                else break; fi ;;
        esac
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_pacer_options "$pacer") --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_pacer_commands "$pacer")" -- "$cur"))
        fi
        return
    fi
    if [[ $cmd == target && -z $sub && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "set adjust allocate history" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_pacer_options "$pacer" $cmd $sub)" -- "$cur"))
    elif [[ $cmd == append || $cmd == import ]]; then
        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null
    fi
} &&
complete -F _pacer pacer
