"""Which functions an analyst query may call, and with what arguments (an allow-list).

ClickHouse checks `max_execution_time` only between blocks, and KILL QUERY takes effect at the
same points: one call of a super-linear function over one block (a substring search of a long
needle in a long haystack, an edit distance, a lambda over an array that scans the array) runs
to its end whatever the limits say (measured on chdb: KILL QUERY of the issue-21 probe took
effect after 21 s, when the call returned). Memory is different: `max_memory_usage` is checked
at every allocation, so a value can only grow until the limit refuses it.

So a function is allowed only if its cost is linear in what it reads (then time is bounded by
memory, which ClickHouse bounds), or if its arguments are bounded here: a search takes a short
literal needle over a column of the views (no value the query built), a builder (`range`,
`repeat`, pads) a small literal count. Anything not listed is refused with its name, so a new
ClickHouse function is closed until someone judges its cost. This module must never allow a
function that reads outside the views (files, URLs, dictionaries, Join tables, settings, the
server's identity) or that only holds the engine (`sleep`).
"""

from __future__ import annotations

import re

from sqlglot import exp

MAX_NEEDLE_CHARS = 128
"""A search's needle or LIKE pattern: a string literal of at most this many characters."""
MAX_RANGE = 10_000
MAX_REPEAT = 1_000
MAX_FRAME_OFFSET = 100
"""A window frame's ROWS offset (n PRECEDING / n FOLLOWING): an integer literal up to this."""


def _names(text: str) -> frozenset[str]:
    return frozenset(name.lower() for name in text.split())


# Linear (or n·log n) in what they read, and reading nothing but their arguments.
_AGGREGATES = _names("""
    count sum avg min max any anylast anyheavy argmin argmax uniq uniqexact uniqcombined
    uniqcombined64 uniqhll12 uniqtheta quantile quantiles quantileexact quantilesexact
    quantiletdigest quantilestdigest quantiletiming median medianexact stddevpop stddevsamp
    varpop varsamp covarpop covarsamp corr grouparray groupuniqarray grouparraysorted
    groupbitand groupbitor groupbitxor sumwithoverflow summap minmap maxmap topk
    simplelinearregression avgweighted countdistinct approx_count_distinct percentile_cont
    percentile_disc stddev variance first_value last_value nth_value row_number rank
    dense_rank percent_rank cume_dist ntile laginframe leadinframe lag lead
""")
_AGGREGATE_SUFFIXES = ("if", "distinct", "ornull", "ordefault", "array")
_SCALARS = _names("""
    cast case extract date_diff datediff date_trunc datetrunc date_add date_sub
    plus minus multiply divide intdiv intdivorzero modulo moduloorzero negate abs gcd lcm
    round roundbankers floor ceil ceiling trunc truncate sign sqrt cbrt exp exp2 exp10 log ln
    log2 log10 pow power greatest least e pi isnan isfinite isinfinite ifnotfinite
    equals notequals less greater lessorequals greaterorequals and or not xor
    if multiif coalesce ifnull nullif isnull isnotnull assumenotnull tonullable exists
    tostring tofixedstring tostringcuttozero todecimalstring totypename
    toint8 toint16 toint32 toint64 toint128 toint256 touint8 touint16 touint32 touint64
    touint128 touint256 tofloat32 tofloat64 todecimal32 todecimal64 todecimal128 todecimal256
    toint64ornull toint64orzero tofloat64ornull tofloat64orzero todecimal128ornull
    todate todate32 todatetime todatetime64 todateornull todateorzero todatetimeornull
    todatetimeorzero parsedatetimebesteffort parsedatetimebesteffortornull
    parsedatetime64besteffort parsedatetime64besteffortornull todayofweek todayofmonth
    todayofyear toyear toquarter tomonth toweek toisoweek toisoyear tohour tominute tosecond
    tostartofday tostartofweek tostartofmonth tostartofquarter tostartofyear tomonday
    tostartofhour tostartofminute tostartoffifteenminutes tostartofinterval toyyyymm
    toyyyymmdd toyyyymmddhhmmss totimezone toUnixTimestamp fromunixtimestamp
    fromunixtimestamp64milli tounixtimestamp64milli formatdatetime now now64 today yesterday
    adddays addweeks addmonths addyears addhours addminutes addseconds subtractdays
    subtractweeks subtractmonths subtractyears subtracthours tointervalday
    tointervalweek tointervalmonth tointervalyear tointervalhour
    length lengthutf8 char_length character_length empty notempty lower upper lowerutf8
    upperutf8 substring substr substringutf8 left right leftutf8 rightutf8 trim ltrim rtrim
    trimboth trimleft trimright concat concat_ws concatwithseparator startswith endswith
    reverse reverseutf8 toValidUTF8 hex unhex base64encode base64decode trybase64decode
    lpad rpad leftpad rightpad repeat splitbychar
    array tuple tupleelement map mapkeys mapvalues mapcontains arrayelement has
    arrayjoin arraysum arrayavg arraymin arraymax arrayproduct arraycount arraysort
    arrayreversesort arraydistinct arrayreverse arrayslice arrayconcat arraypushback
    arraypushfront arraypopback arraypopfront arrayenumerate arraycompact arrayuniq
    arrayflatten arrayzip arraystringconcat range indexof empty notempty
    jsonextractstring jsonextractint jsonextractfloat jsonextractbool jsonextractraw jsonhas
    jsonlength jsontype visitparamextractstring tuplenames
    cityhash64 siphash64 xxhash64 murmurhash3_64 farmhash64 inttouint32 tohex
""")
ALLOWED_FUNCTIONS: frozenset[str] = _AGGREGATES | _SCALARS
"""Lower-cased ClickHouse names (the SQL that runs is sqlglot's, so these are its spellings)."""

# Searches: the cost is haystack x needle. Allowed with a short literal needle in a column.
NEEDLE_ARGUMENT: dict[str, int] = {
    "position": 1, "strpos": 1, "locate": 1, "positioncaseinsensitive": 1, "positionutf8": 1,
    "countsubstrings": 1, "like": 1, "ilike": 1, "notlike": 1, "notilike": 1, "match": 1,
    "regexp_like": 1, "extract": 1,
    "replaceone": 1, "replaceall": 1, "replace": 1, "splitbystring": 0,
}
# Builders: the size comes from an integer argument, which must be a small literal.
BOUNDED_COUNT: dict[str, tuple[int, int]] = {
    "range": (-1, MAX_RANGE),  # every argument
    "repeat": (1, MAX_REPEAT),
    "leftpad": (1, MAX_REPEAT), "rightpad": (1, MAX_REPEAT),
    "lpad": (1, MAX_REPEAT), "rpad": (1, MAX_REPEAT),
}
# Strings searched need a haystack of the views' own values, not one the query built.
_HAYSTACK_ARGUMENT: dict[str, int] = {"splitbystring": 1}
# Scans of a collection per row: the collection must be a view's column or a literal, never
# one the query collected (`has((SELECT groupArray(...)), x)` is rows x collection).
_SCANS = _names("has indexof countequal mapcontains")
# Aggregates that collect every row into one value: not in a subquery used as a value, whose
# one big array or map every row of the outer query would then scan.
_COLLECTING = _names("grouparray groupuniqarray summap minmap maxmap topk groupconcat")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Needles that are RE2 patterns (`extract(s, re)`, not the SQL EXTRACT(YEAR FROM d)).
_REGEX = _names("match regexp_like extract")


class FunctionRefused(ValueError):
    """A call the allow-list refuses; the message names the function and says why."""


def function_name(node: exp.Func) -> str:
    """The name ClickHouse will see: that of the SQL regenerated from the tree."""
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql(dialect="clickhouse", comments=False).split("(", 1)[0].strip().strip('`"')


def _allowed(name: str) -> bool:
    lower = name.lower()
    if lower in ALLOWED_FUNCTIONS or lower in NEEDLE_ARGUMENT or lower in BOUNDED_COUNT:
        return True
    for suffix in _AGGREGATE_SUFFIXES:  # sumIf, uniqExactIf, countDistinct, sumArray...
        if lower.endswith(suffix) and lower[: -len(suffix)] in _AGGREGATES:
            return True
    return False


def _arguments(node: exp.Expr) -> list[exp.Expr]:
    """The call's arguments in the order of the SQL that runs (sqlglot's slots, in order)."""
    if isinstance(node, exp.Split):  # printed splitByString(separator, string)
        return [a for a in (node.expression, node.this) if isinstance(a, exp.Expr)]
    args: list[exp.Expr] = []
    for slot in node.arg_types:
        value = node.args.get(slot)
        for arg in value if isinstance(value, list) else [value]:
            if isinstance(arg, exp.Expr):
                args.append(arg)
    return args


# A search may look into a column through these (they keep its size): `position(lower(c), 'x')`.
_SIZE_KEEPING = _names("lower upper lowerutf8 upperutf8 trim ltrim rtrim trimboth trimleft")


def _a_views_column(node: exp.Expr | None, aliases: frozenset[str]) -> bool:
    """Whether `node` reads a value of the views as stored: a column no alias of the query
    names, nor the unnamed result of a subquery (a backquoted `groupArray(x)`)."""
    if isinstance(node, exp.Column):
        return node.name not in aliases and bool(_IDENTIFIER.match(node.name))
    if isinstance(node, exp.Func) and function_name(node).lower() in _SIZE_KEEPING:
        args = _arguments(node)
        return len(args) == 1 and _a_views_column(args[0], aliases)
    return False


def _literal_int(node: exp.Expr) -> int | None:
    if isinstance(node, exp.Neg):
        inner = _literal_int(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def _check_search(name: str, args: list[exp.Expr], aliases: frozenset[str]) -> None:
    needle_at = NEEDLE_ARGUMENT[name.lower()]
    haystack_at = _HAYSTACK_ARGUMENT.get(name.lower(), 0)
    needle = args[needle_at] if needle_at < len(args) else None
    if not (isinstance(needle, exp.Literal) and needle.is_string):
        raise FunctionRefused(f"{name}() takes its pattern as a string literal")
    if len(needle.this) > MAX_NEEDLE_CHARS:
        raise FunctionRefused(f"{name}()'s pattern is over {MAX_NEEDLE_CHARS} characters")
    if name.lower() in _REGEX and counted_repetition(needle.this):
        raise FunctionRefused(
            f"{name}()'s pattern repeats with {{m,n}}, which is not allowed (its compiled size"
            " has no bound): write the repetition out, or \\{ for a literal brace"
        )
    haystack = args[haystack_at] if haystack_at < len(args) else None
    if not _a_views_column(haystack, aliases):
        raise FunctionRefused(
            f"{name}() searches a column of the views (not a value the query builds)"
        )


def counted_repetition(pattern: str) -> bool:
    """Whether an RE2 pattern may have a counted repetition (`x{m,n}`, `{m}`, `{m,}`): any
    `{` outside a character class that no backslash escapes. `\\p{Greek}`, `\\x{41}` are
    classes and characters, not counts. When unsure it says yes (the query is refused)."""
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            if i - 1 < len(pattern) and pattern[i - 1] in "pPx" and pattern[i : i + 1] == "{":
                end = pattern.find("}", i)
                if end < 0 or not re.fullmatch(r"[A-Za-z0-9_^]*", pattern[i + 1 : end]):
                    return True
                i = end + 1
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "{":
            return True
        i += 1
    return False


def check_frame(spec: exp.WindowSpec) -> None:
    """Refuse a window frame whose cost is not linear: ClickHouse cannot take a row out of an
    aggregate state, so a frame whose start moves is added up again for every row (rows x
    frame), and rows with FOLLOWING ones are worked out only once those arrived. Allowed: the
    default frame, UNBOUNDED PRECEDING (the start never moves) or CURRENT ROW, and ROWS
    offsets that are integer literals of at most MAX_FRAME_OFFSET. A RANGE offset bounds
    values, not rows (100 PRECEDING over a Float spaced 0.01 is 10,000 rows), so RANGE takes
    no offset."""
    kind = spec.args.get("kind")
    if not kind:
        return
    kind = str(kind).upper()
    limit = (
        f"window frame offsets are limited to {MAX_FRAME_OFFSET}: ROWS BETWEEN n PRECEDING"
        f" (or UNBOUNDED PRECEDING, CURRENT ROW) AND n FOLLOWING (or CURRENT ROW), n an integer"
        f" of at most {MAX_FRAME_OFFSET}; RANGE only from UNBOUNDED PRECEDING or CURRENT ROW to"
        " CURRENT ROW"
    )
    if kind not in ("ROWS", "RANGE") or spec.args.get("exclude"):
        raise FunctionRefused(limit)
    bounds = (
        (spec.args.get("start"), spec.args.get("start_side"), True),
        (spec.args.get("end"), spec.args.get("end_side"), False),
    )
    for bound, side, is_start in bounds:
        if bound is None and not is_start:
            continue  # ROWS n PRECEDING: to the current row
        if isinstance(bound, str):
            word = bound.upper()
            if word == "CURRENT ROW" or (word == "UNBOUNDED" and is_start and side == "PRECEDING"):
                continue
            raise FunctionRefused(limit)
        offset = _literal_int(bound) if isinstance(bound, exp.Literal) else None
        if kind != "ROWS" or offset is None or not 0 <= offset <= MAX_FRAME_OFFSET:
            raise FunctionRefused(limit)


def used_as_a_value(subquery: exp.Expr) -> bool:
    """Whether a subquery is used as a value (`x / (SELECT ...)`, `WITH (SELECT ...) AS n`),
    not as rows (FROM, JOIN, IN, a UNION part, a WITH table)."""
    parent = subquery.parent
    if isinstance(parent, exp.CTE):
        return bool(parent.args.get("scalar"))
    return not isinstance(parent, exp.From | exp.Join | exp.In | exp.SetOperation | exp.Lateral)


def _collects_into_a_value(node: exp.Expr) -> bool:
    query = node.find_ancestor(exp.Select)
    while query is not None:
        if isinstance(query.parent, exp.Subquery) and used_as_a_value(query.parent):
            return True
        query = query.parent.find_ancestor(exp.Select) if query.parent is not None else None
    return False


def _base(name: str) -> str:
    lower = name.lower()
    for suffix in _AGGREGATE_SUFFIXES:
        if lower.endswith(suffix) and lower[: -len(suffix)] in _AGGREGATES:
            return lower[: -len(suffix)]
    return lower


def check_call(node: exp.Expr, aliases: frozenset[str]) -> None:
    """Refuse (FunctionRefused) a call that is not allowed or whose arguments are unbounded;
    `aliases` are the names the query defines (a column by one of them is a built value)."""
    if isinstance(node, exp.Bracket):  # m['k'] scans a map: of a view's column, or a literal
        base = node.this
        if isinstance(base, exp.Subquery) or (
            isinstance(base, exp.Column) and not _a_views_column(base, aliases)
        ):
            raise FunctionRefused("x[...] takes a column of the views or a literal, not a built value")
        return
    if isinstance(node, exp.Like | exp.ILike):
        _check_search("ilike" if isinstance(node, exp.ILike) else "like", _arguments(node), aliases)
        return
    if isinstance(node, exp.Lambda):
        raise FunctionRefused("lambdas (x -> ...) are not allowed: their cost has no bound")
    syntax = exp.Case | exp.If | exp.Array | exp.Connector | exp.Collate
    if not isinstance(node, exp.Func) or isinstance(node, syntax):
        return  # CASE (sqlglot prints if() so), [a, b], AND/OR (sqlglot's Funcs too)
    name = function_name(node)
    if name.startswith("["):  # an array literal, as sqlglot prints it
        return
    if not _allowed(name):
        raise FunctionRefused(f"the function {name}() is not allowed in analyst queries")
    lower = name.lower()
    args = _arguments(node)
    if _base(name) in _COLLECTING and _collects_into_a_value(node):
        raise FunctionRefused(
            f"{name}() is not allowed in a subquery used as a value (every row would scan it)"
        )
    if lower in _SCANS:
        first = args[0] if args else None
        if not (isinstance(first, exp.Array) or _a_views_column(first, aliases)):
            raise FunctionRefused(f"{name}() scans a column of the views or a literal array")
    if lower in NEEDLE_ARGUMENT and not isinstance(node, exp.Extract):  # not EXTRACT(DAY FROM)
        _check_search(name, args, aliases)
    if lower in BOUNDED_COUNT:
        at, most = BOUNDED_COUNT[lower]
        for arg in args if at < 0 else args[at : at + 1]:
            value = _literal_int(arg)
            if value is None or abs(value) > most:
                raise FunctionRefused(f"{name}() takes an integer literal of at most {most}")
