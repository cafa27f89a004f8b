# companion shell hook for bash >= 4.3. Load it with:  eval "$(companion shell-init bash)"
# Per command it appends one tab-separated line to the companion spool with builtins only (no
# subprocess per prompt); it never prints, never blocks, never fails the prompt.
# Leading-space commands are not recorded; COMPANION_SHELL_OFF=1 turns recording off.
if [[ $- == *i* && -z ${__companion_hook_loaded-} ]] \
   && (( BASH_VERSINFO[0] > 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 3) )); then
__companion_hook_loaded=1
__companion_default_data=@COMPANION_DATA@
__companion_session="$$-${EPOCHREALTIME:-$SECONDS}-$RANDOM"
__companion_session=${__companion_session//[.,]/}
__companion_armed=
__companion_start=
__companion_cwd=
__companion_first=
__companion_histnum=

__companion_now() {  # the time now in epoch seconds, into __companion_t
    if [[ -n ${EPOCHREALTIME-} ]]; then __companion_t=$EPOCHREALTIME; else printf -v __companion_t '%(%s)T' -1; fi
}

__companion_off() { [[ -n ${COMPANION_SHELL_OFF-} && $COMPANION_SHELL_OFF != 0 ]]; }

__companion_dir() {  # the spool folder, into __companion_d (COMPANION_HOME set in the shell wins)
    if [[ -n ${COMPANION_HOME-} ]]; then __companion_d=$COMPANION_HOME/data/spool; else __companion_d=$__companion_default_data/spool; fi
}

__companion_append() {  # $1: one record without its newline; call __companion_dir first
    { builtin printf '%s\n' "$1" >> "$__companion_d/shell.tsv"; } 2>/dev/null \
        || { command mkdir -p -m 700 "$__companion_d" && builtin printf '%s\n' "$1" >> "$__companion_d/shell.tsv"; } 2>/dev/null
    return 0
}

__companion_last_history() {  # the newest history entry, into __companion_h
    # Through a small per-shell scratch file in the private spool folder rather than $(...): a
    # subshell costs a fork, milliseconds in a busy interactive shell. Overwritten in place, never
    # truncated; a NUL ends the entry. The subshell is only the fallback.
    local scratch=$__companion_d/.bash-$__companion_session
    __companion_h=
    if { { HISTTIMEFORMAT= builtin history 1; builtin printf '\0'; } 1<> "$scratch"; } 2>/dev/null; then
        IFS= builtin read -r -d '' __companion_h < "$scratch"
    else
        __companion_h=$(HISTTIMEFORMAT= builtin history 1 2>/dev/null)
    fi
    __companion_h=${__companion_h%$'\n'}
}

__companion_escape() {  # escape $1 into __companion_e: backslash, newline, tab, carriage return
    local v=${1//\\/\\\\}
    v=${v//$'\n'/\\n}; v=${v//$'\t'/\\t}; __companion_e=${v//$'\r'/\\r}
}

__companion_debug_trap() {  # preexec: the first command run after the prompt was shown
    [[ -n $__companion_armed && -z ${COMP_LINE-} ]] || return 0
    case $BASH_COMMAND in __companion_*) return 0 ;; esac
    __companion_armed=
    __companion_now; __companion_start=$__companion_t
    __companion_first=$BASH_COMMAND
    __companion_cwd=$PWD  # where the command started (a `cd` belongs to the folder it was typed in)
    return 0
}

__companion_arm() { __companion_armed=1; }

__companion_place() {  # keep precmd first (it needs $?) and the arming last in PROMPT_COMMAND
    if (( BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1) )); then
        local -a rest=(); local item
        for item in "${PROMPT_COMMAND[@]}"; do
            [[ $item == __companion_precmd || $item == __companion_arm || -z $item ]] || rest+=("$item")
        done
        PROMPT_COMMAND=(__companion_precmd "${rest[@]}" __companion_arm)
    else
        local pc=${PROMPT_COMMAND-}
        pc=${pc//__companion_precmd$'\n'/}; pc=${pc//$'\n'__companion_arm/}
        PROMPT_COMMAND=$'__companion_precmd\n'"$pc"$'\n__companion_arm'
    fi
}

__companion_precmd() {
    local status=$? start=$__companion_start first=$__companion_first cwd=${__companion_cwd:-$PWD}
    __companion_armed= __companion_start= __companion_first= __companion_cwd=
    __companion_off && return $status
    local -a pc=("${PROMPT_COMMAND[@]}")
    [[ ${pc[0]} == __companion_precmd* && ${pc[${#pc[@]}-1]} == *__companion_arm ]] || __companion_place
    __companion_finish "$status" "$start" "$first" "$cwd"  # start is empty for `(subshell)` lines: no duration
    return $status
}

__companion_finish() {  # $1 exit status, $2 start time (or ''), $3 first simple command (or ''), $4 start folder
    local end entry num cmd previous=$__companion_histnum
    __companion_now; end=$__companion_t
    __companion_dir; __companion_last_history; entry=$__companion_h
    # `history 1` prints "%5d", a `*` or a space, a space, then the entry
    entry=${entry#"${entry%%[![:space:]]*}"}
    num=${entry%%[!0-9]*}
    if [[ -z $num ]]; then
        __companion_histnum=${__companion_histnum:-0}; return 0  # history empty or off
    fi
    cmd=${entry:${#num}+2}
    __companion_histnum=$num
    [[ -n $previous ]] || return 0  # the first prompt only takes the history baseline
    if [[ $num == "$previous" ]]; then
        # not added to history: a leading-space command (skip) or a repeat hidden by ignoredups (record)
        [[ -n $3 && $cmd == "$3"* ]] || return 0
    fi
    [[ $cmd == [[:space:]]* ]] && return 0
    local c w
    __companion_escape "$cmd"; c=$__companion_e
    __companion_escape "${4:-$PWD}"; w=$__companion_e
    __companion_append "c1"$'\t'"bash"$'\t'"$__companion_session"$'\t'"$2"$'\t'"$end"$'\t'$'\t'"$1"$'\t'"$w"$'\t'"$c"
}

if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    # bash-preexec owns the DEBUG trap: join its hook arrays instead of replacing it (repeats hidden
    # by ignoredups cannot be told from leading-space commands there, so they are not recorded)
    __companion_bp_preexec() { __companion_now; __companion_start=$__companion_t; __companion_cwd=$PWD; }
    __companion_bp_precmd() {
        local status=$? start=$__companion_start cwd=${__companion_cwd:-$PWD}
        __companion_start= __companion_cwd=
        __companion_off && return $status
        __companion_finish "$status" "$start" "" "$cwd"
        return $status
    }
    precmd_functions=(__companion_bp_precmd "${precmd_functions[@]}")
    preexec_functions+=(__companion_bp_preexec)
else
    __companion_prior_debug=$(trap -p DEBUG)
    # the trap runs before every simple command, loops typed at the prompt included: when not armed
    # it costs one test and no function call (and always succeeds, which extdebug requires)
    if [[ -n $__companion_prior_debug ]]; then
        eval "__companion_prior_debug=(${__companion_prior_debug})"
        trap "[[ -z \$__companion_armed ]] || __companion_debug_trap; ${__companion_prior_debug[2]}" DEBUG
    else
        trap '[[ -z $__companion_armed ]] || __companion_debug_trap' DEBUG
    fi
    unset __companion_prior_debug
    __companion_place
fi
__companion_now; __companion_dir
__companion_off || __companion_append "h1"$'\t'"bash"$'\t'"$__companion_session"$'\t'"$__companion_t"$'\t'"$$"
fi
