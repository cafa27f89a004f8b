# companion shell hook for bash >= 4.3. Load it with:  eval "$(companion shell-init bash)"
# Per command it appends one tab-separated line to the companion spool with builtins only (no
# subprocess per prompt); it never prints, never blocks, never fails the prompt.
# Leading-space commands are not recorded; COMPANION_SHELL_OFF=1 turns recording off.
# It also emits OSC 133 marks (633 in VS Code without its own shell integration) for terminals
# that show command boundaries, which `companion shell` uses to keep a failed command's output, and
# asks pytest for a JUnit report in the spool (PYTEST_ADDOPTS, for a command that is recorded only).
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
__companion_n=0
__companion_id=
__companion_rec=
__companion_py=
__companion_junit=
__companion_pyuser=
__companion_pyhad=
__companion_rid=      # the id naming this shell's report file, made ready (empty, 0600) in advance
__companion_rf=       # its path
__companion_addopts=  # the user's PYTEST_ADDOPTS, when it names a --junitxml of their own
__companion_read=     # set when the command's history entry was read as it started
__companion_hn=
__companion_hc=
__companion_pytest=@COMPANION_PYTEST_REPORT@
# under `companion shell` (on the very terminal the proxy made, not a tmux pane or a window
# started from inside it) the proxy keeps the output
__companion_pty=
[[ -n ${COMPANION_PTY-} && -n ${COMPANION_PTY_TTY-} && /dev/stdin -ef $COMPANION_PTY_TTY ]] && __companion_pty=1

__companion_now() {  # the time now in epoch seconds, into __companion_t
    if [[ -n ${EPOCHREALTIME-} ]]; then __companion_t=$EPOCHREALTIME; else printf -v __companion_t '%(%s)T' -1; fi
}

__companion_off() { [[ -n ${COMPANION_SHELL_OFF-} && $COMPANION_SHELL_OFF != 0 ]]; }

__companion_aside() { [[ ${COMPANION_TERMINAL-} == vscode ]]; }  # the VS Code extension reports this terminal

__companion_osc() {  # the semantic-mark code for this terminal into __companion_o ('' for none)
    __companion_o=
    [[ -t 1 && ${COMPANION_SHELL_MARKS-1} != 0 ]] || return 0
    if [[ ${TERM_PROGRAM-} == vscode ]]; then
        [[ -n ${VSCODE_SHELL_INTEGRATION-} ]] || __companion_o=633  # VS Code's own script marks otherwise
    elif [[ ${TERM-} != dumb || -n $__companion_pty ]]; then
        __companion_o=133
    fi
}

__companion_dir() {  # the spool folder, into __companion_d (COMPANION_HOME set in the shell wins)
    if [[ -n ${COMPANION_HOME-} ]]; then __companion_d=$COMPANION_HOME/data/spool; else __companion_d=$__companion_default_data/spool; fi
}

__companion_append() {  # $1: one record without its newline; call __companion_dir first
    local f=$__companion_d/shell.tsv
    # a new spool file is private (0600) whatever the shell's umask; the subshell runs only then
    [[ -e $f ]] || { command mkdir -p -m 700 "$__companion_d" && (umask 077 && : >> "$f"); } 2>/dev/null
    { builtin printf '%s\n' "$1" >> "$f"; } 2>/dev/null
    return 0
}

__companion_last_history() {  # the newest history entry, into __companion_h
    # Through a small per-shell scratch file in the private spool folder rather than $(...): a
    # subshell costs a fork, milliseconds in a busy interactive shell. Written in place (a NUL ends
    # the entry) and blanked in place once read, so no command stays at rest there; not truncated,
    # which on ext4 forces a flush costing milliseconds. The subshell is only the fallback.
    local scratch=$__companion_d/.bash-$__companion_session pad
    __companion_h=
    # created 0600 whatever the shell's umask (the subshell only the first time)
    [[ -e $scratch ]] || (umask 077 && : >> "$scratch") 2>/dev/null
    if { { HISTTIMEFORMAT= builtin history 1; builtin printf '\0'; } 1<> "$scratch"; } 2>/dev/null; then
        IFS= builtin read -r -d '' __companion_h < "$scratch"
        builtin printf -v pad '%*s' $(( ${#__companion_h} * 4 + 1 )) ''  # >= the entry's bytes, whatever its characters
        { builtin printf '%s' "$pad" 1<> "$scratch"; } 2>/dev/null
    else
        __companion_h=$(HISTTIMEFORMAT= builtin history 1 2>/dev/null)
    fi
    __companion_h=${__companion_h%$'\n'}
}

__companion_entry() {  # the history entry read into __companion_h: its number into __companion_hn, text into __companion_hc
    # `history 1` prints "%5d", a `*` or a space, a space, then the entry
    local entry=${__companion_h#"${__companion_h%%[![:space:]]*}"}
    __companion_hn=${entry%%[!0-9]*} __companion_hc=
    [[ -z $__companion_hn ]] || __companion_hc=${entry:${#__companion_hn}+2}
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
    __companion_command_start "$BASH_COMMAND"
    return 0
}

__companion_command_start() {  # $1: the first simple command ('' under bash-preexec); mark the output start, ask pytest for a report
    __companion_n=$((__companion_n + 1)); __companion_id=$__companion_session-$__companion_n
    __companion_osc; [[ -z $__companion_o ]] || builtin printf '\e]%s;C\a' "$__companion_o"
    __companion_py= __companion_junit= __companion_addopts= __companion_read=
    __companion_off || __companion_aside && return 0
    case " ${PYTEST_ADDOPTS-}" in  # the user's own report, named in their PYTEST_ADDOPTS: read it, add none
        *[[:space:]]--junitxml*|*[[:space:]]--junit-xml*) __companion_addopts=$PYTEST_ADDOPTS; return 0 ;;
    esac
    [[ $__companion_pytest == 1 && ${COMPANION_PYTEST_REPORT-1} != 0 ]] || return 0
    # only for a command that will be recorded: a leading-space command's report would be kept by nobody
    __companion_will_record "$1" || return 0
    case "${PYTEST_ADDOPTS-} $__companion_hc" in *no:junitxml*) return 0 ;; esac
    case $__companion_d in *"'"*) return 0 ;; esac  # PYTEST_ADDOPTS is split like a shell line
    __companion_report_file || return 0
    __companion_pyhad=${PYTEST_ADDOPTS+1}; __companion_pyuser=${PYTEST_ADDOPTS-}
    # first, so that a --junitxml of the user's own (later on pytest's command line) wins
    __companion_py="--junitxml='$__companion_rf' -o junit_family=xunit1${__companion_pyuser:+ $__companion_pyuser}"
    export PYTEST_ADDOPTS=$__companion_py
    __companion_junit=1
}

__companion_will_record() {  # $1 as for __companion_finish's $3: whether it will record the command now starting
    __companion_dir; __companion_last_history; __companion_entry; __companion_read=1  # finish reuses the entry
    [[ -n $__companion_hn && -n $__companion_histnum && $__companion_hc != [[:space:]]* ]] || return 1
    [[ $__companion_hn != "$__companion_histnum" || ( -n $1 && $__companion_hc == "$1"* ) ]]
}

__companion_report_file() {  # this shell's report file into __companion_rf, made (empty, 0600) when there is none
    # One file serves the commands that write no report, so files are made only at a shell's first
    # command and after a report was taken (the subshell, a fork, runs only then). pytest opens it
    # with O_TRUNC and keeps its mode: the report is private whatever the shell's umask.
    if [[ -z $__companion_rid || ! -e $__companion_d/pytest-$__companion_rid.xml ]]; then
        __companion_rid=$__companion_id
        [[ -d $__companion_d ]] || command mkdir -p -m 700 "$__companion_d" 2>/dev/null
        (umask 077 && : >> "$__companion_d/pytest-$__companion_rid.xml") 2>/dev/null || { __companion_rid=; return 1; }
    fi
    __companion_rf=$__companion_d/pytest-$__companion_rid.xml
}

__companion_report_left() {  # after the record (or none): delete a report that no record took
    [[ -n $__companion_junit ]] || return 0
    __companion_junit=
    # recording went off during the command (or the record was not written): nobody would read it
    if [[ -n $__companion_rid && -s $__companion_rf ]]; then
        command rm -f -- "$__companion_rf" 2>/dev/null
        __companion_rid=
    fi
    return 0
}

__companion_command_end() {  # put PYTEST_ADDOPTS back, unless the command itself changed it
    [[ -n $__companion_py ]] || return 0
    if [[ ${PYTEST_ADDOPTS-} == "$__companion_py" ]]; then
        if [[ -n $__companion_pyhad ]]; then PYTEST_ADDOPTS=$__companion_pyuser; else unset PYTEST_ADDOPTS; fi
    fi
    __companion_py=
}

__companion_arm() {
    __companion_armed=1
    __companion_osc
    [[ -n $__companion_o ]] || return 0
    # prompt start and end marks around PS1, as it stands after every other prompt tool has run
    local a="\[\e]$__companion_o;A\a\]" b="\[\e]$__companion_o;B\a\]"
    [[ $PS1 == "$a"* ]] || PS1=$a$PS1
    [[ $PS1 == *"$b" ]] || PS1=$PS1$b
}

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
    __companion_command_end
    local -a pc=("${PROMPT_COMMAND[@]}")
    [[ ${pc[0]} == __companion_precmd* && ${pc[${#pc[@]}-1]} == *__companion_arm ]] || __companion_place
    __companion_rec=
    __companion_off || __companion_aside || __companion_finish "$status" "$start" "$first" "$cwd"  # start is empty for `(subshell)` lines: no duration
    __companion_done "$status" "$start"
    __companion_report_left; __companion_read=
    return $status
}

__companion_done() {  # $1 exit status, $2 start ('' when no command ran): the end mark, then the record
    if [[ -n $2 ]]; then
        __companion_osc
        if [[ -n $__companion_o ]]; then
            # the command's id goes with the mark only to `companion shell`, for a command recorded here
            if [[ -n $__companion_pty && -n $__companion_rec ]]; then
                builtin printf '\e]%s;D;%s;cid=%s\a' "$__companion_o" "$1" "$__companion_id"
            else
                builtin printf '\e]%s;D;%s\a' "$__companion_o" "$1"
            fi
        fi
    fi
    [[ -z $__companion_rec ]] || __companion_append "$__companion_rec"
    __companion_rec=
}

__companion_finish() {  # $1 exit status, $2 start time (or ''), $3 first simple command (or ''), $4 start folder
    local end num cmd previous=$__companion_histnum
    __companion_now; end=$__companion_t
    __companion_dir
    [[ -n $__companion_read ]] || { __companion_last_history; __companion_entry; }  # else read as it started
    num=$__companion_hn cmd=$__companion_hc
    if [[ -z $num ]]; then
        __companion_histnum=${__companion_histnum:-0}; return 0  # history empty or off
    fi
    __companion_histnum=$num
    [[ -n $previous ]] || return 0  # the first prompt only takes the history baseline
    if [[ $num == "$previous" ]]; then
        # not added to history: a leading-space command (skip) or a repeat hidden by ignoredups (record)
        [[ -n $3 && $cmd == "$3"* ]] || return 0
    fi
    [[ $cmd == [[:space:]]* ]] && return 0
    local c w f
    __companion_escape "$cmd"; c=$__companion_e
    __companion_escape "${4:-$PWD}"; w=$__companion_e
    __companion_flags; f=$__companion_f
    [[ -n $2 ]] || __companion_id=$__companion_session-$((++__companion_n))  # no start: no id was taken
    __companion_rec="c2"$'\t'"bash"$'\t'"$__companion_session"$'\t'"$2"$'\t'"$end"$'\t'$'\t'"$1"$'\t'"$w"$'\t'"$__companion_id"$'\t'"$f"$'\t'"$c"
}

__companion_flags() {  # the record's flags into __companion_f: where its output and report are
    __companion_f=
    if [[ -n $__companion_pty ]]; then __companion_f="pty=1"
    elif [[ -n ${TMUX_PANE-} && -n ${TMUX-} && $TMUX != *[[:space:]]* ]]; then
        __companion_f="pane=$TMUX_PANE tmux=${TMUX%%,*}"  # $TMUX is "socket,pid,session"
    fi
    if [[ -n $__companion_junit && -s $__companion_rf ]]; then  # pytest wrote the report: the record takes it
        __companion_f+="${__companion_f:+ }junit=$__companion_rid"; __companion_rid=
    fi
    if [[ -n $__companion_addopts ]]; then  # where the user's own report is (spaces as \s: flags are space-separated)
        __companion_escape "$__companion_addopts"; __companion_f+="${__companion_f:+ }addopts=${__companion_e// /\\s}"
    fi
}

if __companion_aside; then
    # The VS Code extension records this terminal through VS Code's own shell integration: no
    # prompt hooks here (VS Code's script keeps only the first PROMPT_COMMAND entry and its own
    # DEBUG trap; ours would take their place and its commands would swallow their output).
    :
elif [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    # bash-preexec owns the DEBUG trap: join its hook arrays instead of replacing it (repeats hidden
    # by ignoredups cannot be told from leading-space commands there, so they are not recorded)
    __companion_bp_preexec() {
        __companion_now; __companion_start=$__companion_t; __companion_cwd=$PWD
        __companion_command_start ""
        __companion_read=  # precmd reads the entry again: a framework may call this before the line is in history
    }
    __companion_bp_precmd() {
        local status=$? start=$__companion_start cwd=${__companion_cwd:-$PWD}
        __companion_start= __companion_cwd=
        __companion_command_end
        __companion_rec=
        __companion_off || __companion_aside || __companion_finish "$status" "$start" "" "$cwd"
        __companion_done "$status" "$start"
        __companion_report_left; __companion_read=
        return $status
    }
    precmd_functions=(__companion_bp_precmd "${precmd_functions[@]}")
    preexec_functions+=(__companion_bp_preexec)
    precmd_functions+=(__companion_arm)  # last: the prompt marks around the finished PS1
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
