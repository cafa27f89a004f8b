"""Sentences for the git watcher's events (watchers/git_watcher.py), in ProactiveBench's style:

    The user committed 3f2a1bc "Fix token refresh" on `main`, changing 3 files (+40 −12): ...
    A merge of `feature/login` into `main` stopped with conflicts in `api/auth.py` and `api/session.py`.

Hashes are printed as git abbreviates them; the redactor leaves hex alone, so they survive.
"""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import code, listing, plural, renderer


def _where(data: Mapping[str, Any]) -> str:
    """'on `main`' or 'on a detached HEAD'."""
    branch = data.get("branch")
    return f"on {code(branch)}" if branch else "on a detached HEAD"


def _commit_ref(short: Any, summary: Any) -> str:
    """3f2a1bc "Fix token refresh" (the summary only when known)."""
    text = str(short or "?")
    return f'{text} "{" ".join(str(summary).split())}"' if summary else text


def _changes(data: Mapping[str, Any]) -> str:
    count = int(data.get("files_changed") or 0)
    text = f"changing {plural(count, 'file')} (+{int(data.get('insertions') or 0)} −{int(data.get('deletions') or 0)})"
    paths = [f.get("path") for f in data.get("files") or () if f.get("path")]
    return text + (f": {listing(paths, 3)}" if paths else "")


@renderer("git.commit")
def _commit(data: Mapping[str, Any]) -> str:
    this = _commit_ref(data.get("short"), data.get("summary"))
    if data.get("summary") is None and "files_changed" not in data:
        return f"The user committed {this} {_where(data)} (its details could not be read)."
    changes = _changes(data)
    origin = data.get("origin")
    if origin == "amend":
        return f"The user amended the last commit {_where(data)}, now {this}, {changes}."
    if origin == "initial":
        return f"The user made the first commit {this} {_where(data)}, {changes}."
    if origin == "merge" and data.get("merged"):
        return f"The user merged {code(data['merged'])} into {code(data.get('branch') or 'HEAD')} with {this}, {changes}."
    if origin == "cherry-pick":
        return f"The user cherry-picked a commit {_where(data)} as {this}, {changes}."
    if origin == "revert":
        return f"The user reverted a commit {_where(data)} with {this}, {changes}."
    what = "the merge commit" if data.get("merge") else ""
    return f"The user committed {what + ' ' if what else ''}{this} {_where(data)}, {changes}."


def _dirty_clause(data: Mapping[str, Any]) -> str:
    if "dirty" not in data:
        return ""
    if not data.get("dirty"):
        return "; the working tree is clean"
    summary = data.get("dirty_summary") or {}
    names = list(summary.get("names") or ())
    count = int(summary.get("files") or len(names))
    return f" with uncommitted changes in {plural(count, 'file')}" + (f" ({listing(names, 3)})" if names else "")


@renderer("git.branch")
def _branch(data: Mapping[str, Any]) -> str:
    source = f"detached HEAD at {data.get('from')}" if data.get("from_detached") else code(data.get("from"))
    dirty = _dirty_clause(data)
    if data.get("detached"):
        at = f" (`{data['at']}`)" if data.get("at") and data.get("at") != data.get("short") else ""
        target = _commit_ref(data.get("short") or data.get("to"), data.get("summary"))
        return f"The user checked out {target}{at} as a detached HEAD, coming from {source}{dirty}."
    target = code(data.get("to"))
    if data.get("unborn"):
        return f"The user switched from {source} to {target}, a branch with no commits yet{dirty}."
    if data.get("created"):
        return f"The user created branch {target} from {source} and switched to it{dirty}."
    return f"The user switched from {source} to {target}{dirty}."


def _operation_phrase(data: Mapping[str, Any]) -> str:
    """'merge of `f2` into `main`', 'interactive rebase of `feature` onto `main`', ..."""
    kind = data.get("operation")
    branch = data.get("branch")
    if kind == "merge":
        merging = data.get("merging") or ([data["theirs"]] if data.get("theirs") else [])
        what = " and ".join(code(m) for m in merging if m) or "another branch"
        return f"merge of {what} into {code(branch or data.get('ours') or 'HEAD')}"
    if kind == "rebase":
        onto = data.get("onto") or (data.get("ours") if "onto" not in data else None)
        label = "interactive rebase" if data.get("interactive") else "rebase"
        return f"{label} of {code(branch) if branch else 'a detached HEAD'}" + (f" onto {code(onto)}" if onto else "")
    if kind == "cherry-pick":
        this = _commit_ref(data.get("short") or data.get("theirs"), data.get("summary") or data.get("theirs_summary"))
        return f"cherry-pick of {this} onto {code(branch or data.get('ours') or 'HEAD')}"
    if kind == "revert":
        this = _commit_ref(data.get("short") or data.get("theirs"), data.get("summary") or data.get("theirs_summary"))
        return f"revert of {this} {_where(data)}"
    if kind == "bisect":
        return f"bisect {_where(data)}"
    if kind == "am":
        return f"`git am` patch series {_where(data)}"
    return f"git {kind or 'operation'}"


def _a(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


@renderer("git.operation")
def _operation(data: Mapping[str, Any]) -> str:
    phrase = _operation_phrase(data)
    status = data.get("status")
    if status == "started":
        steps = f" ({plural(int(data['total']), 'commit')} to replay)" if data.get("total") else ""
        return f"The user started {_a(phrase)}{steps}."
    if status == "in progress":
        return f"{_upper_first(_a(phrase))} was already in progress when companion started watching."
    outcome = data.get("outcome")
    if data.get("operation") == "bisect" and data.get("first_bad"):
        found = _commit_ref(data["first_bad"], data.get("first_bad_summary"))
        return f"The user finished a bisect {_where(data)}; the first bad commit is {found}."
    if outcome == "aborted":
        return f"The user aborted the {phrase}."
    if outcome == "completed":
        return f"The user completed the {phrase}."
    return f"The user ended the {phrase}."


@renderer("git.conflict")
def _conflict(data: Mapping[str, Any]) -> str:
    files = listing(list(data.get("files") or ()), 4)
    operation = data.get("operation")
    if data.get("status") == "resolved":
        about = f" of the {_operation_phrase(data)}" if operation else ""
        return f"The user resolved the conflicts{about} in {files}."
    if not operation:
        return f"The working tree {_where(data)} has unresolved conflicts in {files}."
    applying = ""
    if operation == "rebase" and data.get("theirs"):
        applying = f" while applying {_commit_ref(data['theirs'], data.get('theirs_summary'))}"
    return f"{_upper_first(_a(_operation_phrase(data)))} stopped with conflicts in {files}{applying}."


@renderer("git.stash")
def _stash(data: Mapping[str, Any]) -> str:
    action = data.get("action")
    count = int(data.get("count") or 0)
    message = f' ("{data["message"]}")' if data.get("message") else ""
    if action == "push":
        return f"The user stashed their changes {_where(data)}{message}; {plural(count, 'stash', 'es')} saved."
    if action == "pop":
        return f"The user popped the latest stash{message} {_where(data)}; {plural(count, 'stash', 'es')} left."
    if action == "clear":
        return "The user cleared all stashes."
    return f"The user dropped a stash{message}; {plural(count, 'stash', 'es')} left."


def _ref_phrase(entry: Mapping[str, Any]) -> str:
    name = code(entry.get("ref"))
    change = entry.get("change")
    if change == "created":
        return f"{name} was created at {entry.get('to_short')}"
    if change == "deleted":
        return f"{name} was deleted (it was at {entry.get('from_short')})"
    move = f"{entry.get('from_short')} → {entry.get('to_short')}"
    ahead, behind = int(entry.get("ahead") or 0), int(entry.get("behind") or 0)
    if change == "forced":
        return f"{name} was rewritten {move} ({ahead} new, {plural(behind, 'commit')} dropped)"
    if change == "fast-forward":
        return f"{name} moved {move} ({plural(ahead, 'new commit')})"
    return f"{name} moved {move}"


_REASONS = {
    "fetch": "The user fetched{remotes}",
    "pull": "The user pulled{remotes}",
    "push": "The user pushed{remotes}",
    "merge": "The user fast-forward merged",
    "reset": "The user reset a branch",
    "tag": "The user tagged",
    "update": "Refs changed",
}


@renderer("git.refs")
def _refs(data: Mapping[str, Any]) -> str:
    reason = str(data.get("reason") or "update")
    remotes = list(data.get("remotes") or ())
    preposition = " to " if reason == "push" else " from "
    intro = _REASONS.get(reason, "Refs changed").format(
        remotes=(preposition + " and ".join(code(r) for r in remotes)) if remotes else "")
    phrases = [_ref_phrase(e) for e in data.get("refs") or ()]
    more = int(data.get("more") or 0)
    shown = phrases[:3]
    hidden = len(phrases) - len(shown) + more
    text = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + (shown[-1] if shown else "nothing moved")
    if hidden:
        text += f" (and {plural(hidden, 'more ref')})"
    return f"{intro}: {text}."


def _duration(data: Mapping[str, Any]) -> str:
    seconds = float(data.get("seconds") or 0)
    if seconds >= 90:
        return plural(int(round(seconds / 60)), "minute")
    return plural(int(round(seconds)), "second")


@renderer("git.dirty")
def _dirty(data: Mapping[str, Any]) -> str:
    parts = [f"{int(data[k])} {k}" for k in ("modified", "added", "deleted", "renamed", "untracked", "conflicted")
             if data.get(k)]
    names = list(data.get("names") or ())
    extra = int(data.get("files") or 0) - len(names)
    shown = ", ".join(code(n, 60) for n in names) + (f" and {extra} more" if extra > 0 else "")
    return (f"The user has kept {plural(int(data.get('files') or 0), 'file')} uncommitted {_where(data)} "
            f"for {_duration(data)} ({', '.join(parts)})" + (f": {shown}." if names else "."))
