"""The credential rules of redaction: every way a shell user or a config file spells a secret.

Shapes (provider tokens) say what a string is; these rules say where a secret stands: after
`mysql -p`, `sshpass -p`, `redis-cli -a`, `curl -u user:`, `--password`/`--token`, an
`Authorization:` header, `user:pass@` in a URI (postgresql, mongodb+srv, redis...), or as the
value of a secret-named assignment (`PGPASSWORD=`, `MYSQL_PWD=`, `export DB_PASSWORD='x y'`,
`*_TOKEN`, `*_SECRET`, `*_KEY`, libpq `password=`, YAML/JSON `"password": ...`). Values are
read the way the shell reads a word (quotes with spaces, `$'...'`, backslash escapes), so a
quoted password is replaced whole, quotes included. `companion.redact` applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A pattern whose `secret` group (or `secret2`, `secret3`, or the whole match) is a secret.

    `whole_token`: the match is a token's shape, so the secret is the whole token around it
    (a key longer than its provider's pattern is replaced by one marker, never cut in two).
    `needles`: the rule can only match text that holds one of these (lower case) substrings;
    a substring test is far cheaper than a regular expression over a 64 KiB output tail."""

    kind: str
    pattern: re.Pattern[str]
    whole_token: bool = False
    needles: tuple[str, ...] = ()

    def may_match(self, lowered: str) -> bool:
        return not self.needles or any(needle in lowered for needle in self.needles)


# One shell word: quoted pieces (an unclosed quote runs to the end of its line) and unquoted
# characters (never a shell metacharacter), joined: `'a b'`, `"x\"y"`, `$'..'`, `pa'ss'"wd"`;
# also inside a Python repr of the command (a traceback's `subprocess.run('...')`).
WORD = (r"(?:'[^'\n]*'?|\"(?:[^\"\\\n]|\\.)*\"?|\$'(?:[^'\\\n]|\\.)*'?"
        r"|\\'[^\n]*?\\'|\\\"[^\n]*?\\\""  # quotes escaped by a Python repr: 'mysql -p\'a b\''
        r"|(?:[^\s'\"\\;|&<>()`]|\\.)+)+")
# The value of `NAME=`: a shell word, where ( ) ` may also stand inside the value (`password=)x(`
# in a libpq string or a config file is literal) but not close it (`f(password=pw)` keeps its `)`).
ASSIGNED = WORD.replace(r"[^\s'\"\\;|&<>()`]", r"[^\s'\"\\;|&<>()`]|[()`](?=[^\s'\"\\;|&<>,:()`])")
# A value in code or YAML/JSON after `name:`: quoted, or up to the end of the line's value
# (`password: my pass phrase  # comment`), never a type (`password: str`).
_CODE_VALUE = (r"(?!(?:str|int|bytes|bool|None|null|true|false|string|number|Optional|Any|any|SecretStr"
               r"|undefined|list|dict)\b)"
               r"(?:'[^'\n]*'?|\"(?:[^\"\\\n]|\\.)*\"?|[^\s'\",;)}\]#]+(?:[ \t]+[^\s'\",;)}\]#]+)*)")
# A command's own arguments (up to the next `;`, `|`, `&` or line end), before the option.
_ARGS = r"(?=\s)[^\n;|&]*?\s"
# A program's name standing as a word (also `/usr/bin/mysql`, `sudo mysql`, `docker exec db mysql`).
_PROGRAM = r"(?:(?<![\w.-])|(?<=\\[nt]))(?:{})"  # also after a repr's \n

# Names whose value is a secret. Glued words may have anything before them (PGPASSWORD,
# _authToken, GITHUBTOKEN) but only `_SEGMENTS` or a CamelCase tail after (not max_tokens,
# tokenizer, secretary); short words must stand as their own segment (DB_PASS, not bypass);
# `KEY` only in env-style upper case (STRIPE_KEY, not monkey or sort_key); `PWD` only after `_`
# (MYSQL_PWD; PWD and OLDPWD are folders).
_TAIL = r"(?:_[A-Za-z0-9]+)*(?![A-Za-z0-9])"
SECRET_NAME = (
    r"(?:(?i:password|passwd|passphrase|secret|token|apikey|api_key|credentials?)(?:_[A-Za-z0-9]+|[A-Z][A-Za-z0-9]*)*(?![a-z0-9])"
    r"|(?<![A-Za-z0-9])(?i:pass|pw|auth|access_?key|private_?key|signing_?key|encryption_?key|master_?key|client_?key)" + _TAIL
    + r"|(?<=_)(?i:pwd)" + _TAIL
    + r"|(?<![A-Za-z0-9])(?:[A-Z0-9]+_)*KEY(?:_[A-Z0-9]+)*(?![A-Za-z0-9]))"
)

# every secret name holds one of these (lower-cased): the assignment rules' prefilter
_NAME_NEEDLES = ("pass", "pw", "secret", "token", "key", "auth", "credential")

_OPTION_WORDS = (r"password|passwd|pass|passphrase|passin|passout|(?:src|dest)?(?:store|key)pass|token|secret"
                 r"|api-?key|access-key|secret-key|auth-token|oauth2-bearer|client-secret")


def _scoped(needles: tuple[str, ...], programs: str, option: str, value: str = WORD) -> Rule:
    """`value` right after `option` anywhere in the arguments of one of `programs` (whose names
    hold one of `needles`)."""
    secret = value if "(?P<secret" in value else f"(?P<secret>{value})"
    return Rule("password", re.compile(_PROGRAM.format(programs) + _ARGS + f"(?:{option}){secret}"), needles=needles)


_USER_PASS = (r"(?:'[^'\n:]*:(?P<secret>[^'\n]+)'|\"[^\"\n:]*:(?P<secret2>[^\"\n]+)\""
              r"|(?:'[^'\n:]*'|\"[^\"\n:]*\"|[^\s:'\"])*:(?P<secret3>" + WORD + "))")

# A provider token cut short where a watcher truncated its text (a hunk header's context line,
# a TODO, a summary): too short for its full pattern, still part of a secret.
CUT_TOKEN = Rule("cut-token", whole_token=True, pattern=re.compile(
    r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_|glpat-|[sr]k_(?:live|test)_|xox[abposr]-|A[KS]IA|AIza"
    r"|sk-(?:proj-|svcacct-|admin-)?|eyJ|SG\.|npm_|pypi-)[A-Za-z0-9_.-]{4,}\Z"))

CONTEXT_RULES = (
    # HTTP headers, in a curl -H, a log line, a Python dict or JSON: `Authorization: Bearer X`
    Rule("authorization", needles=("authorization",), pattern=re.compile(
        r"(?i)(?<![\w-])(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?\s*"
        r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|bot)\s+)?(?P<secret>[^\s'\",]+(?:[ \t]+[^\s'\",]+)*)")),
    Rule("authorization", needles=("api-key", "-token", "cookie"), pattern=re.compile(
        r"(?i)(?<![\w-])(?:x-api-key|api-key|x-auth-token|x-access-token|private-token|x-vault-token|(?:set-)?cookie)"
        r"['\"]?\s*:\s*['\"]?(?P<secret>[^\r\n'\"]+)")),
    Rule("authorization", needles=("bearer",), pattern=re.compile(r"\bBearer\s+(?=[\w.~+/=-]*\d)(?P<secret>[\w.~+/=-]{8,})")),
    # scheme://user:password@host (postgresql, mysql, mongodb+srv, redis with no user, amqp,
    # https), also when the text was cut before the @ (a hunk header is cut at 80 characters)
    Rule("password", needles=("://",), pattern=re.compile(
        r"://[^/\s:@'\"]*:(?:(?P<secret>[^\s/'\"]+)@|(?![0-9]+\Z)(?P<secret2>[^\s/'\"@]+)\Z)")),  # :8080 is a port
    # --password X, --password=X, --api-token X, -storepass X, openssl -passin pass:X (not --no-password)
    Rule("password", needles=("pass", "token", "secret", "key", "bearer"), pattern=re.compile(r"(?<![\w-])--?(?!no-)(?:[A-Za-z0-9]+-)*(?i:" + _OPTION_WORDS + r")(?:=|\s+)(?!-)(?P<secret>"
                                + WORD + ")")),
    # mysql and its tools: -pSECRET, -p'S3cret', -p"x y" (a separate word after -p is a database)
    _scoped(("mysql", "mariadb", "mycli"), r"mysql\w*|mariadb(?:-\w+)?|mycli", r"-p"),
    # -p glued to a quoted value, or to a word with letters and digits, in any command
    # (7z -pS3cret); plain flags stay: tar -pxzf, ssh -p2222, docker -p8080:80, gcc -pthread
    Rule("password", needles=("-p",), pattern=re.compile(r"(?<![\w-])-p(?P<secret>'[^'\n]*'?|\"(?:[^\"\\\n]|\\.)*\"?"
                                r"|(?=[^\s'\"]*[A-Za-z])(?=[^\s'\"]*[0-9])[^\s'\"-][^\s'\"]*)")),
    _scoped(("sshpass",), r"sshpass", r"-p\s*"),
    _scoped(("mongo",), r"mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop",
                             r"-p\s*(?!-)"),
    _scoped(("redis-cli", "keydb-cli"), r"redis-cli|keydb-cli", r"-a\s*(?!-)"),
    _scoped(("login",), r"(?:docker|podman|nerdctl|buildah|skopeo|oras|helm\s+registry)\s+login", r"-p\s*(?!-)"),
    _scoped(("sqlcmd", "bcp", "zip", "7z"), r"sqlcmd|bcp|zip|unzip|7za?|7zr", r"-P\s*(?!-)"),
    _scoped(("7z",), r"7za?|7zr", r"-p"),
    _scoped(("ldap",), r"ldap\w+", r"-w\s*(?!-)"),
    _scoped(("curl",), r"curl", r"(?:-u|-U|--user|--proxy-user)(?:=|\s*)", _USER_PASS),
    _scoped(("http", "xh"), r"https?|xh", r"(?:-a|--auth)(?:=|\s*)", _USER_PASS),
    _scoped(("smbclient", "rpcclient"), r"smbclient|rpcclient", r"(?:-U|--user)(?:=|\s*)[^\s%]+%", WORD),
    # .netrc lines: machine h login u password p
    Rule("password", needles=("password",), pattern=re.compile(r"\blogin\s+\S+\s+password\s+(?P<secret>\S+)")),
    # fish `set -gx NAME v a l u e s`, csh `setenv NAME value`
    Rule("secret-assignment", needles=_NAME_NEEDLES, pattern=re.compile(r"\bset\s+(?:--?[A-Za-z-]+\s+)*\w*?" + SECRET_NAME
                                         + r"\s+(?P<secret>" + WORD + r"(?:[ \t]+" + WORD + r")*)")),
    Rule("secret-assignment", needles=_NAME_NEEDLES, pattern=re.compile(r"\bsetenv\s+\w*?" + SECRET_NAME + r"\s+(?P<secret>" + WORD + ")")),
    # NAME=value inside a quoted string (a libpq "host=db password=a&b;c", docker -e "X_TOKEN=a|b"):
    # there ; & | < > ( ) are part of the value, which runs to a blank or a quote
    Rule("secret-assignment", needles=_NAME_NEEDLES, pattern=re.compile(
        r"[\"'][^\"'\n]*?" + SECRET_NAME + r"[ \t]*=(?![=~])[ \t]*(?P<secret>[^\s\"']+)")),
    # NAME=value before a command, in an export, env, docker -e, libpq "password=..", a query
    # string (a Python default `password=None)` is no secret); name: value in YAML, JSON, logs,
    # Python dicts (not `x::y` test ids or `:=`). One pattern, so the name is looked for once.
    Rule("secret-assignment", needles=_NAME_NEEDLES, pattern=re.compile(
        SECRET_NAME + r"['\"]?[ \t]*(?:=(?![=~])[ \t]*(?!(?:None|null|nil|True|False)[,)])(?P<secret>" + ASSIGNED + ")"
        r"|:(?![:=/])[ \t]*(?P<secret2>" + _CODE_VALUE + "))")),
)
