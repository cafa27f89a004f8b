# companion shell hook for fish >= 3.1. Load it with:  companion shell-init fish | source
# Per command it appends one tab-separated line to the companion spool; it never prints, never
# blocks, never fails the prompt. Leading-space commands are not recorded; COMPANION_SHELL_OFF=1
# turns recording off. fish has no clock builtin, so each record costs one `date` call.
if status is-interactive; and not set -q __companion_hook_loaded
set -g __companion_hook_loaded 1
set -g __companion_default_data @COMPANION_DATA@
set -g __companion_session $fish_pid-(random)(random)
set -g __companion_cmd
set -g __companion_cwd

function __companion_off
    set -q COMPANION_SHELL_OFF; and test -n "$COMPANION_SHELL_OFF"; and test "$COMPANION_SHELL_OFF" != 0
end

function __companion_append --argument-names record
    set -l dir $__companion_default_data/spool
    if set -q COMPANION_HOME; and test -n "$COMPANION_HOME"
        set dir $COMPANION_HOME/data/spool
    end
    # fish reports a failed redirection itself, whatever 2> says: check before writing
    set -l file $dir/shell.tsv
    if not test -d $dir
        command mkdir -p -m 700 $dir 2>/dev/null; or return 0
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
end

function __companion_postexec --on-event fish_postexec
    set -l exit_status $status
    set -l duration $CMD_DURATION
    set -l cmd $__companion_cmd
    set -l cwd $__companion_cwd
    set -g __companion_cmd
    test -n "$cwd"; or set cwd $PWD
    # fish runs this even for the `exit` that ends the shell; bash and zsh never see it, so skip it
    if test -z "$cmd"; or string match -qr '^\s|^exit(\s|$)' -- $cmd; or __companion_off
        return
    end
    set -l end (command date +%s 2>/dev/null)
    set -l tab \t
    __companion_append "c1$tab"fish"$tab$__companion_session$tab$tab$end$tab$duration$tab$exit_status$tab"(__companion_escape $cwd)"$tab"(__companion_escape $cmd)
end

__companion_off; or __companion_append "h1"\t"fish"\t"$__companion_session"\t(command date +%s 2>/dev/null)\t"$fish_pid"
end
