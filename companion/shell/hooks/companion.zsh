# companion shell hook for zsh. Load it with:  eval "$(companion shell-init zsh)"
# Per command it appends one tab-separated line to the companion spool with builtins only; it
# never prints, never blocks, never fails the prompt. Leading-space commands are not recorded;
# COMPANION_SHELL_OFF=1 turns recording off. It also emits OSC 133 marks (633 in VS Code without its
# own shell integration), which `companion shell` uses to keep a failed command's output, and asks
# pytest for a JUnit report in the spool (PYTEST_ADDOPTS, for a command that is recorded only).
if [[ -o interactive ]] && (( ! ${+__companion_hook_loaded} )); then
typeset -g __companion_hook_loaded=1
typeset -g __companion_default_data=@COMPANION_DATA@
zmodload -F zsh/datetime p:EPOCHREALTIME 2>/dev/null || zmodload zsh/datetime 2>/dev/null
typeset -g __companion_session="$$-${EPOCHREALTIME:-$SECONDS}-$RANDOM"
__companion_session=${__companion_session//[.,]/}
typeset -g __companion_start= __companion_cmd= __companion_cwd=
typeset -g __companion_id= __companion_py= __companion_pyuser= __companion_pyhad= __companion_junit= __companion_o=
# the id naming this shell's report file, made ready (empty, 0600) in advance, and its path; the
# user's PYTEST_ADDOPTS when it names a --junitxml of their own
typeset -g __companion_rid= __companion_rf= __companion_addopts=
typeset -gi __companion_n=0
typeset -g __companion_pytest=@COMPANION_PYTEST_REPORT@
typeset -g __companion_pty=
# under `companion shell` (on the very terminal the proxy made) the proxy keeps the output
[[ -n ${COMPANION_PTY-} && -n ${COMPANION_PTY_TTY-} && /dev/stdin -ef $COMPANION_PTY_TTY ]] && __companion_pty=1

__companion_dir() {  # the spool folder into REPLY (COMPANION_HOME set in the shell wins)
    if [[ -n ${COMPANION_HOME-} ]]; then REPLY=$COMPANION_HOME/data/spool; else REPLY=$__companion_default_data/spool; fi
}

__companion_aside() { [[ ${COMPANION_TERMINAL-} == vscode ]] }  # the VS Code extension reports this terminal

__companion_osc() {  # the semantic-mark code for this terminal into __companion_o ('' for none)
    __companion_o=
    [[ -t 1 && ${COMPANION_SHELL_MARKS-1} != 0 ]] || return 0
    if [[ ${TERM_PROGRAM-} == vscode ]]; then
        [[ -n ${VSCODE_SHELL_INTEGRATION-} ]] || __companion_o=633  # VS Code's own script marks otherwise
    elif [[ ${TERM-} != dumb || -n $__companion_pty ]]; then
        __companion_o=133
    fi
}

__companion_off() { [[ -n ${COMPANION_SHELL_OFF-} && $COMPANION_SHELL_OFF != 0 ]] }

__companion_append() {  # $1: one record without its newline
    local dir REPLY
    __companion_dir; dir=$REPLY
    # a new spool file is private (0600) whatever the shell's umask; the subshell runs only then
    [[ -e $dir/shell.tsv ]] || { command mkdir -p -m 700 "$dir" && (umask 077 && : >>| "$dir/shell.tsv") } 2>/dev/null
    { builtin print -r -- "$1" >>| "$dir/shell.tsv" } 2>/dev/null
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
    __companion_n+=1; __companion_id=$__companion_session-$__companion_n
    __companion_osc; [[ -z $__companion_o ]] || builtin printf '\e]%s;C\a' $__companion_o
    __companion_py= __companion_junit= __companion_addopts=
    __companion_off || __companion_aside && return 0
    case " ${PYTEST_ADDOPTS-}" in  # the user's own report, named in their PYTEST_ADDOPTS: read it, add none
        *[[:space:]]--junitxml*|*[[:space:]]--junit-xml*) __companion_addopts=$PYTEST_ADDOPTS; return 0 ;;
    esac
    [[ $__companion_pytest == 1 && ${COMPANION_PYTEST_REPORT-1} != 0 ]] || return 0
    # only for a command that will be recorded: a leading-space command's report would be kept by nobody
    [[ -n $1 && $1 != [[:space:]]* ]] || return 0
    case "${PYTEST_ADDOPTS-} $1" in *no:junitxml*) return 0 ;; esac
    local REPLY; __companion_dir
    case $REPLY in *"'"*) return 0 ;; esac  # PYTEST_ADDOPTS is split like a shell line
    __companion_report_file $REPLY || return 0
    __companion_pyhad=${PYTEST_ADDOPTS+1}; __companion_pyuser=${PYTEST_ADDOPTS-}
    # first, so that a --junitxml of the user's own (later on pytest's command line) wins
    __companion_py="--junitxml='$__companion_rf' -o junit_family=xunit1${__companion_pyuser:+ $__companion_pyuser}"
    export PYTEST_ADDOPTS=$__companion_py
    __companion_junit=1
}

__companion_report_file() {  # $1 the spool folder: this shell's report file into __companion_rf, made (empty, 0600) when there is none
    # One file serves the commands that write no report, so files are made only at a shell's first
    # command and after a report was taken (the subshell, a fork, runs only then). pytest opens it
    # with O_TRUNC and keeps its mode: the report is private whatever the shell's umask.
    if [[ -z $__companion_rid || ! -e $1/pytest-$__companion_rid.xml ]]; then
        __companion_rid=$__companion_id
        [[ -d $1 ]] || command mkdir -p -m 700 "$1" 2>/dev/null
        (umask 077 && : >>| "$1/pytest-$__companion_rid.xml") 2>/dev/null || { __companion_rid=; return 1 }
    fi
    __companion_rf=$1/pytest-$__companion_rid.xml
}

__companion_command_end() {  # put PYTEST_ADDOPTS back, unless the command itself changed it
    [[ -n $__companion_py ]] || return 0
    if [[ ${PYTEST_ADDOPTS-} == "$__companion_py" ]]; then
        if [[ -n $__companion_pyhad ]]; then PYTEST_ADDOPTS=$__companion_pyuser; else unset PYTEST_ADDOPTS; fi
    fi
    __companion_py=
}

__companion_marks() {  # last precmd function: prompt start and end marks around the finished prompt
    __companion_osc
    [[ -n $__companion_o ]] || return 0
    local a=$'%{\e]'$__companion_o$';A\a%}' b=$'%{\e]'$__companion_o$';B\a%}'
    [[ $PS1 == "$a"* ]] || PS1=$a$PS1
    [[ $PS1 == *"$b" ]] || PS1=$PS1$b
}

__companion_precmd() {
    local st=$? start=$__companion_start cmd=$__companion_cmd cwd=${__companion_cwd:-$PWD}
    __companion_start= __companion_cmd= __companion_cwd=
    [[ -n $start ]] || return $st
    __companion_command_end
    local record= end=${EPOCHREALTIME:-$EPOCHSECONDS} c w f= REPLY
    if [[ -n $cmd && $cmd != [[:space:]]* ]] && ! __companion_off && ! __companion_aside; then
        __companion_escape "$cmd"; c=$REPLY
        __companion_escape "$cwd"; w=$REPLY
        if [[ -n $__companion_pty ]]; then f="pty=1"
        elif [[ -n ${TMUX_PANE-} && -n ${TMUX-} && $TMUX != *[[:space:]]* ]]; then f="pane=$TMUX_PANE tmux=${TMUX%%,*}"
        fi
        if [[ -n $__companion_junit && -s $__companion_rf ]]; then  # pytest wrote the report: the record takes it
            f+="${f:+ }junit=$__companion_rid"; __companion_rid=
        fi
        if [[ -n $__companion_addopts ]]; then  # where the user's own report is (spaces as \s: flags are space-separated)
            __companion_escape "$__companion_addopts"; f+="${f:+ }addopts=${REPLY// /\\s}"
        fi
        record="c2"$'\t'"zsh"$'\t'"$__companion_session"$'\t'"$start"$'\t'"$end"$'\t'$'\t'"$st"$'\t'"$w"$'\t'"$__companion_id"$'\t'"$f"$'\t'"$c"
    fi
    __companion_osc
    if [[ -n $__companion_o ]]; then
        # the command's id goes with the mark only to `companion shell`, for a command recorded here
        if [[ -n $__companion_pty && -n $record ]]; then
            builtin printf '\e]%s;D;%s;cid=%s\a' $__companion_o $st $__companion_id
        else
            builtin printf '\e]%s;D;%s\a' $__companion_o $st
        fi
    fi
    [[ -z $record ]] || __companion_append "$record"
    # a report no record took (recording went off during the command): nobody would read it
    if [[ -n $__companion_junit && -n $__companion_rid && -s $__companion_rf ]]; then
        command rm -f -- "$__companion_rf" 2>/dev/null
        __companion_rid=
    fi
    __companion_junit=
    return $st
}

autoload -Uz add-zsh-hook
add-zsh-hook preexec __companion_preexec
add-zsh-hook precmd __companion_precmd
# first in line, so that $? is still the command's status when it runs
precmd_functions=(__companion_precmd ${precmd_functions:#__companion_precmd} __companion_marks)
__companion_off || __companion_append "h1"$'\t'"zsh"$'\t'"$__companion_session"$'\t'"${EPOCHREALTIME:-$EPOCHSECONDS}"$'\t'"$$"
fi
