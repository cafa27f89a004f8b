# companion shell hook for fish >= 3.1. Load it with:  companion shell-init fish | source
# Per command it appends one tab-separated line to the companion spool; it never prints, never
# blocks, never fails the prompt. Leading-space commands are not recorded; COMPANION_SHELL_OFF=1
# turns recording off. fish has no clock builtin, so each record costs one `date` call.
# It also emits OSC 133 marks (633 in VS Code without its own shell integration), which
# `companion shell` uses to keep a failed command's output, and asks pytest for a JUnit report in the
# spool (PYTEST_ADDOPTS, for the command only).
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
set -g __companion_pytest @COMPANION_PYTEST_REPORT@
set -g __companion_pty
# under `companion shell` (on the very terminal the proxy made) the proxy keeps the output
if set -q COMPANION_PTY; and test -n "$COMPANION_PTY"; and test -n "$COMPANION_PTY_TTY"; and test /dev/stdin -ef "$COMPANION_PTY_TTY"
    set -g __companion_pty 1
end

function __companion_dir  # the spool folder (COMPANION_HOME set in the shell wins)
    if set -q COMPANION_HOME; and test -n "$COMPANION_HOME"
        echo $COMPANION_HOME/data/spool
    else
        echo $__companion_default_data/spool
    end
end

function __companion_aside  # the VS Code extension reports this terminal
    test "$COMPANION_TERMINAL" = vscode
end

function __companion_osc  # the semantic-mark code for this terminal into __companion_o ('' for none)
    set -g __companion_o  # (fish captures fish_prompt's output to measure it: there, pass "prompt")
    test "$argv[1]" = prompt; or isatty stdout; or return 0
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
    set -l dir (__companion_dir)
    # fish reports a failed redirection itself, whatever 2> says: check before writing
    set -l file $dir/shell.tsv
    if not test -d $dir
        command mkdir -p -m 700 $dir 2>/dev/null; or return 0
    end
    if not test -e $file  # a new spool file is private (0600) whatever the shell's umask
        set -l mask (umask)
        umask 077
        test -w $dir; and builtin printf '' >>$file 2>/dev/null
        umask $mask
    end
    if test -w $dir; and begin; not test -e $file; or test -w $file; end
        builtin printf '%s\n' $record >>$file 2>/dev/null
    end
    return 0
end

function __companion_escape --argument-names value
    string replace -a -- '\\' '\\\\' $value | string replace -a -- \t '\\t' | string replace -a -- \r '\\r' | string join -- '\\n'
end

function __companion_preexec --on-event fish_preexec
    set -g __companion_cmd $argv[1]
    set -g __companion_cwd $PWD  # where the command started (a `cd` belongs to the folder it was typed in)
    set -g __companion_n (math $__companion_n + 1)
    set -g __companion_id $__companion_session-$__companion_n
    __companion_osc
    set -l o $__companion_o
    test -n "$o"; and printf '\e]%s;C\a' $o
    set -g __companion_py
    set -g __companion_junit
    test "$__companion_pytest" = 1; and test "$COMPANION_PYTEST_REPORT" != 0; or return
    __companion_off; or __companion_aside; and return
    set -l dir (__companion_dir)
    string match -q -- "*no:junitxml*" "$PYTEST_ADDOPTS $argv[1]"; and return
    string match -q -- "*'*" $dir; and return
    set -g __companion_pyhad (set -q PYTEST_ADDOPTS; and echo 1)
    set -g __companion_pyuser "$PYTEST_ADDOPTS"
    # first, so that a --junitxml of the user's own (later on pytest's command line) wins
    set -g __companion_py "--junitxml='$dir/pytest-$__companion_id.xml' -o junit_family=xunit1"
    test -n "$__companion_pyuser"; and set __companion_py "$__companion_py $__companion_pyuser"
    set -gx PYTEST_ADDOPTS $__companion_py
    set -g __companion_junit 1
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
        return
    end
    set -l end (command date +%s 2>/dev/null)
    set -l tab \t
    set -l flags
    if test -n "$__companion_pty"
        set flags "pty=1"
    else if set -q TMUX_PANE; and set -q TMUX; and not string match -qr '\s' -- "$TMUX"
        set flags "pane=$TMUX_PANE tmux="(string split -m1 , -- $TMUX)[1]
    end
    test -n "$__companion_junit"; and set flags (string join ' ' -- $flags junit=1)
    if test -n "$o"
        # the command's id goes with the mark only to `companion shell`
        if test -n "$__companion_pty"
            printf '\e]%s;D;%s;cid=%s\a' $o $exit_status $__companion_id
        else
            printf '\e]%s;D;%s\a' $o $exit_status
        end
    end
    __companion_append "c2$tab"fish"$tab$__companion_session$tab$tab$end$tab$duration$tab$exit_status$tab"(__companion_escape $cwd)"$tab$__companion_id$tab$flags$tab"(__companion_escape $cmd)
end

__companion_off; or __companion_append "h1"\t"fish"\t"$__companion_session"\t(command date +%s 2>/dev/null)\t"$fish_pid"
end
