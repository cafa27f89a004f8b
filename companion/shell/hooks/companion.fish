# companion shell hook for fish >= 3.1. Load it with:  companion shell-init fish | source
# Per command it appends one tab-separated line to the companion spool; it never prints, never
# blocks, never fails the prompt, and starts no process per command (and, as each costs a fraction
# of a millisecond in fish, runs one command substitution per recorded command). Leading-space
# commands are not recorded; COMPANION_SHELL_OFF=1 turns recording off.
# It also emits OSC 133 marks (633 in VS Code without its own shell integration), which
# `companion shell` uses to keep a failed command's output, and asks pytest for a JUnit report in the
# spool (PYTEST_ADDOPTS, for a command that is recorded only).
if status is-interactive; and not set -q __companion_hook_loaded
set -g __companion_hook_loaded 1
set -g __companion_default_data @COMPANION_DATA@
set -g __companion_session $fish_pid-(random)(random)
set -g __companion_cmd
set -g __companion_cwd
set -g __companion_n 0
set -g __companion_id
set -g __companion_py
set -g __companion_pyuser
set -g __companion_pyhad
set -g __companion_junit
set -g __companion_rid  # the id naming this shell's report file, made ready (empty, 0600) in advance
set -g __companion_rf  # its path
set -g __companion_addopts  # the user's PYTEST_ADDOPTS, when it names a --junitxml of their own
set -g __companion_pytest @COMPANION_PYTEST_REPORT@
set -g __companion_pty
# under `companion shell` (on the very terminal the proxy made) the proxy keeps the output
if set -q COMPANION_PTY; and test -n "$COMPANION_PTY"; and test -n "$COMPANION_PTY_TTY"; and test /dev/stdin -ef "$COMPANION_PTY_TTY"
    set -g __companion_pty 1
end

# fish has no clock builtin and `date` is a process per command (milliseconds on a busy machine):
# the time is the clock's offset from the boot clock /proc/uptime (read with a builtin), taken once
# here. Without /proc/uptime (not Linux) records carry no time and the daemon stamps them as it
# reads them.
set -g __companion_clock
if test -r /proc/uptime; and read -l __companion_up __companion_idle </proc/uptime
    set -l now (command date +%s.%N 2>/dev/null)
    if string match -qr '^\d+\.\d+$' -- "$now"; and string match -qr '^\d+\.\d+$' -- "$__companion_up"
        set -g __companion_clock (math --scale=3 "$now - $__companion_up")
    else if set -l boot (string match -r '^btime (\d+)$' </proc/stat 2>/dev/null)
        set -g __companion_clock $boot[2]
    end
end

function __companion_uptime  # the boot clock into __companion_up ('' without a clock)
    set -g __companion_up
    test -n "$__companion_clock"; and read -g __companion_up __companion_idle </proc/uptime 2>/dev/null
    return 0
end

function __companion_dir  # the spool folder into __companion_d (COMPANION_HOME set in the shell wins)
    if test -n "$COMPANION_HOME"
        set -g __companion_d $COMPANION_HOME/data/spool
    else
        set -g __companion_d $__companion_default_data/spool
    end
end

function __companion_aside  # the VS Code extension reports this terminal
    test "$COMPANION_TERMINAL" = vscode
end

function __companion_osc  # the semantic-mark code for this terminal into __companion_o ('' for none)
    set -g __companion_o  # (fish captures fish_prompt's output to measure it: there, pass "prompt")
    test "$argv[1]" = prompt; or test -t 1; or return 0
    test "$COMPANION_SHELL_MARKS" = 0; and return 0
    if test "$TERM_PROGRAM" = vscode
        set -q VSCODE_SHELL_INTEGRATION; or set -g __companion_o 633  # VS Code's own script marks otherwise
    else if test "$TERM" != dumb; or test -n "$__companion_pty"
        set -g __companion_o 133
    end
end

function __companion_return
    return $argv[1]
end

function __companion_wrap_prompt --on-event fish_prompt  # once, around the prompt as configured by then
    functions -e __companion_wrap_prompt
    functions -q fish_prompt; or return
    functions -c fish_prompt __companion_user_prompt
    function fish_prompt
        set -l last_status $status  # the user's prompt may show it: hand it on unchanged
        __companion_osc prompt
        set -l o $__companion_o
        test -n "$o"; and printf '\e]%s;A\a' $o
        __companion_return $last_status
        __companion_user_prompt
        test -n "$o"; and printf '\e]%s;B\a' $o
    end
end

function __companion_off
    set -q COMPANION_SHELL_OFF; and test -n "$COMPANION_SHELL_OFF"; and test "$COMPANION_SHELL_OFF" != 0
end

function __companion_append --argument-names record
    __companion_dir
    set -l dir $__companion_d
    # fish reports a failed redirection itself, whatever 2> says: check before writing
    set -l file $dir/shell.tsv
    if not test -d $dir
        command mkdir -p -m 700 $dir 2>/dev/null; or return 0
    end
    if not test -e $file  # a new spool file is private (0600) whatever the shell's umask
        set -l mask $umask
        set -g umask 0077
        test -w $dir; and builtin printf '' >>$file 2>/dev/null
        set -g umask $mask
    end
    if test -w $dir; and begin; not test -e $file; or test -w $file; end
        builtin printf '%s\n' $record >>$file 2>/dev/null
    end
    return 0
end

function __companion_escape --argument-names value  # escape $value into __companion_e: backslash, newline, tab, carriage return
    if string match -qr '[\\\\\t\r\n]' -- $value
        set -g __companion_e (string replace -a -- '\\' '\\\\' $value | string replace -a -- \t '\\t' | string replace -a -- \r '\\r' | string join -- '\\n')
    else
        set -g __companion_e $value  # the usual case, without a command substitution
    end
end

function __companion_preexec --on-event fish_preexec
    set -g __companion_cmd $argv[1]
    set -g __companion_cwd $PWD  # where the command started (a `cd` belongs to the folder it was typed in)
    __companion_osc
    set -l o $__companion_o
    test -n "$o"; and printf '\e]%s;C\a' $o
    set -g __companion_py
    set -g __companion_junit
    set -g __companion_addopts
    __companion_off; or __companion_aside; and return
    if string match -qr -- '(^|\s)--junit-?xml' "$PYTEST_ADDOPTS"
        set -g __companion_addopts "$PYTEST_ADDOPTS"  # the user's own report: read it, add none
        return
    end
    test "$__companion_pytest" = 1; and test "$COMPANION_PYTEST_REPORT" != 0; or return
    # only for a command that will be recorded: a leading-space command's report would be kept by nobody
    test -n "$argv[1]"; and not string match -qr '^\s|^exit(\s|$)' -- $argv[1]; or return
    __companion_dir
    set -l dir $__companion_d
    string match -q -- "*no:junitxml*" "$PYTEST_ADDOPTS $argv[1]"; and return
    string match -q -- "*'*" $dir; and return
    __companion_report_file $dir; or return
    set -g __companion_pyhad
    set -q PYTEST_ADDOPTS; and set -g __companion_pyhad 1
    set -g __companion_pyuser "$PYTEST_ADDOPTS"
    # first, so that a --junitxml of the user's own (later on pytest's command line) wins
    set -g __companion_py "--junitxml='$__companion_rf' -o junit_family=xunit1"
    test -n "$__companion_pyuser"; and set __companion_py "$__companion_py $__companion_pyuser"
    set -gx PYTEST_ADDOPTS $__companion_py
    set -g __companion_junit 1
end

function __companion_report_file --argument-names dir  # this shell's report file into __companion_rf, made (empty, 0600) when there is none
    # One file serves the commands that write no report. pytest opens it with O_TRUNC and keeps its
    # mode: the report is private whatever the shell's umask.
    if test -z "$__companion_rid"; or not test -e $dir/pytest-$__companion_rid.xml
        set -g __companion_rid $__companion_session-r$__companion_n  # N counts records: one file per N at most
        if not test -d $dir
            command mkdir -p -m 700 $dir 2>/dev/null; or return 1
        end
        test -w $dir; or return 1  # fish reports a failed redirection itself, whatever 2> says
        set -l mask $umask
        set -g umask 0077
        builtin true >>$dir/pytest-$__companion_rid.xml 2>/dev/null
        set -g umask $mask
        test -e $dir/pytest-$__companion_rid.xml; or return 1
    end
    set -g __companion_rf $dir/pytest-$__companion_rid.xml
end

function __companion_report_left  # a report no record took (recording went off during the command): nobody would read it
    test -n "$__companion_junit"; or return 0
    set -g __companion_junit
    if test -n "$__companion_rid"; and test -s "$__companion_rf"
        command rm -f -- $__companion_rf 2>/dev/null
        set -g __companion_rid
    end
    return 0
end

function __companion_command_end  # put PYTEST_ADDOPTS back, unless the command itself changed it
    test -n "$__companion_py"; or return 0
    if test "$PYTEST_ADDOPTS" = "$__companion_py"
        if test -n "$__companion_pyhad"
            set -gx PYTEST_ADDOPTS $__companion_pyuser
        else
            set -e PYTEST_ADDOPTS
        end
    end
    set -g __companion_py
end

function __companion_postexec --on-event fish_postexec
    set -l exit_status $status
    set -l duration $CMD_DURATION
    set -l cmd $__companion_cmd
    set -l cwd $__companion_cwd
    set -g __companion_cmd
    __companion_command_end
    test -n "$cwd"; or set cwd $PWD
    __companion_osc
    set -l o $__companion_o
    # fish runs this even for the `exit` that ends the shell; bash and zsh never see it, so skip it
    if test -z "$cmd"; or string match -qr '^\s|^exit(\s|$)' -- $cmd; or __companion_off; or __companion_aside
        test -n "$o"; and printf '\e]%s;D;%s\a' $o $exit_status
        __companion_report_left
        return
    end
    # the command's number and the time, in the one command substitution
    __companion_uptime
    set -l now (math $__companion_n + 1; test -n "$__companion_up"; and math --scale=3 $__companion_clock + $__companion_up)
    set -g __companion_n $now[1]
    set -g __companion_id $__companion_session-$__companion_n
    set -l end $now[2]
    set -l tab \t
    set -l flags  # a list: "$flags" joins it with spaces
    if test -n "$__companion_pty"
        set flags "pty=1"
    else if set -q TMUX_PANE; and set -q TMUX; and not string match -qr '\s' -- "$TMUX"
        set flags "pane=$TMUX_PANE tmux="(string split -m1 , -- $TMUX)[1]
    end
    if test -n "$__companion_junit"; and test -s "$__companion_rf"  # pytest wrote the report: the record takes it
        set flags $flags junit=$__companion_rid
        set -g __companion_rid
    end
    set -g __companion_junit
    if test -n "$__companion_addopts"  # where the user's own report is (spaces as \s: flags are space-separated)
        __companion_escape $__companion_addopts
        set flags $flags addopts=(string replace -a ' ' '\\s' -- $__companion_e)
    end
    if test -n "$o"
        # the command's id goes with the mark only to `companion shell`
        if test -n "$__companion_pty"
            printf '\e]%s;D;%s;cid=%s\a' $o $exit_status $__companion_id
        else
            printf '\e]%s;D;%s\a' $o $exit_status
        end
    end
    __companion_escape $cwd
    set -l w $__companion_e
    __companion_escape $cmd
    __companion_append "c2$tab"fish"$tab$__companion_session$tab$tab$end$tab$duration$tab$exit_status$tab$w$tab$__companion_id$tab$flags$tab$__companion_e"
end

__companion_uptime
test -n "$__companion_up"; and set -l __companion_now (math --scale=3 $__companion_clock + $__companion_up)
__companion_off; or __companion_append "h1"\t"fish"\t"$__companion_session"\t"$__companion_now"\t"$fish_pid"
end
