# companion shell hook for zsh. Load it with:  eval "$(companion shell-init zsh)"
# Per command it appends one tab-separated line to the companion spool with builtins only; it
# never prints, never blocks, never fails the prompt. Leading-space commands are not recorded;
# COMPANION_SHELL_OFF=1 turns recording off.
if [[ -o interactive ]] && (( ! ${+__companion_hook_loaded} )); then
typeset -g __companion_hook_loaded=1
typeset -g __companion_default_data=@COMPANION_DATA@
zmodload -F zsh/datetime p:EPOCHREALTIME 2>/dev/null || zmodload zsh/datetime 2>/dev/null
typeset -g __companion_session="$$-${EPOCHREALTIME:-$SECONDS}-$RANDOM"
__companion_session=${__companion_session//[.,]/}
typeset -g __companion_start= __companion_cmd= __companion_cwd=

__companion_off() { [[ -n ${COMPANION_SHELL_OFF-} && $COMPANION_SHELL_OFF != 0 ]] }

__companion_append() {  # $1: one record without its newline
    local dir
    if [[ -n ${COMPANION_HOME-} ]]; then dir=$COMPANION_HOME/data/spool; else dir=$__companion_default_data/spool; fi
    { builtin print -r -- "$1" >>| "$dir/shell.tsv" } 2>/dev/null \
        || { command mkdir -p -m 700 "$dir" && builtin print -r -- "$1" >>| "$dir/shell.tsv" } 2>/dev/null
    return 0
}

__companion_escape() {  # escape $1 into REPLY: backslash, newline, tab, carriage return
    local v=${1//\\/\\\\}
    v=${v//$'\n'/\\n}; v=${v//$'\t'/\\t}; REPLY=${v//$'\r'/\\r}
}

__companion_preexec() {
    __companion_cmd=$1
    __companion_cwd=$PWD  # where the command started (a `cd` belongs to the folder it was typed in)
    __companion_start=${EPOCHREALTIME:-$EPOCHSECONDS}
}

__companion_precmd() {
    local st=$? start=$__companion_start cmd=$__companion_cmd cwd=${__companion_cwd:-$PWD}
    __companion_start= __companion_cmd= __companion_cwd=
    [[ -n $start && -n $cmd && $cmd != [[:space:]]* ]] || return $st
    __companion_off && return $st
    local end=${EPOCHREALTIME:-$EPOCHSECONDS} c w REPLY
    __companion_escape "$cmd"; c=$REPLY
    __companion_escape "$cwd"; w=$REPLY
    __companion_append "c1"$'\t'"zsh"$'\t'"$__companion_session"$'\t'"$start"$'\t'"$end"$'\t'$'\t'"$st"$'\t'"$w"$'\t'"$c"
    return $st
}

autoload -Uz add-zsh-hook
add-zsh-hook preexec __companion_preexec
add-zsh-hook precmd __companion_precmd
# first in line, so that $? is still the command's status when it runs
precmd_functions=(__companion_precmd ${precmd_functions:#__companion_precmd})
__companion_off || __companion_append "h1"$'\t'"zsh"$'\t'"$__companion_session"$'\t'"${EPOCHREALTIME:-$EPOCHSECONDS}"$'\t'"$$"
fi
