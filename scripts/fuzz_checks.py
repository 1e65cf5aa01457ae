"""Schemathesis hooks for `scripts/fuzz`: custom scalars, custom checks, and a guard for the fuzz token.

Loaded by schemathesis through the SCHEMATHESIS_HOOKS environment variable (set by `scripts/fuzz`).

Checks (each raises an AssertionError, which schemathesis reports with the request as a curl command and
the response; each kind of problem has its own exception type, so that schemathesis, which keeps one
failure per operation, type and raise site, reports every kind):

- fathom_no_server_error: no 5xx, and only statuses fathom answers on purpose (200, 400; 408 and 413
  are accepted refusals).
- fathom_error_codes: the body is a JSON object with only `data`, `errors`, `extensions`; every error
  has a message and an `extensions.code` from the documented list, never `INTERNAL`; the fuzz token
  is never refused (UNAUTHENTICATED / RATE_LIMITED mean the run lost its footing).
- fathom_no_leak: no error (message or extensions) shows SQL, table.column names, driver / ORM names,
  panics, source paths or home directories, unless the request itself contains the same text.
- fathom_rejects_invalid_documents: a document that the published schema rejects (an Int literal
  beyond 32 bits, say) is answered with an error, never executed.
- fathom_data_conforms: `data` matches the query's selection set and the published schema: every
  selected field present and nothing else, no null in a non-null position, Int within 32 bits,
  enums within their values, ids and dates in their documented formats, lists are lists, objects
  are objects.

The built-in checks `response_schema_conformance` (JSON object, no null-in-non-null message) and
`negative_data_rejection` (schemathesis's negative cases: a wrong type, a missing required argument,
an unknown enum value must be refused) run beside these (see `scripts/fuzz`).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from typing import Any

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# ---------------------------------------------------------------------------------------------
# Custom scalars: mostly well-formed values (so mutations get past validation and reach the
# database), with a share of edge cases and junk (so validation itself is fuzzed).
# ---------------------------------------------------------------------------------------------

_junk = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "null",
            "NaN",
            "Infinity",
            "-0",
            "1e309",
            "9" * 40,
            "' OR 1=1 --",
            "\\",
            '"',
            "%",
            "_",
            "\u0000",
            "a\u0000b",
            "\ud7ff\ufffd",
            "😀",
            "2026-02-30",
            "2026-13-01",
            "24:00:00",
            "9999-12-31T23:59:59+14:00",
            "0000-01-01",
        ]
    ),
)
# The demo book has about twenty accounts and a handful of every other record: small ids hit them.
_small_id = st.integers(min_value=1, max_value=30)
_int64_edges = st.sampled_from(
    [-(2**63), -(2**63) - 1, 2**63 - 1, 2**63, 2**64, 2**31 - 1, 2**31, 2**32, -(2**31) - 1, -1, 0]
)


def _str(strategy):
    return strategy.map(nodes.String)


def _int(strategy):
    return strategy.map(nodes.Int)


def _weighted(*pairs):
    """one_of with rough weights: each strategy repeated `weight` times."""
    parts = []
    for weight, strategy in pairs:
        parts.extend([strategy] * weight)
    return st.one_of(*parts)


def _mostly(valid, odd, odd_percent=2):
    """`valid` most of the time, `odd` about odd_percent% of the time.

    A query carries many arguments and one bad value refuses the whole document, so each value must
    be well-formed most of the time for queries to reach the resolvers and the database.
    """
    # Hypothesis starts from, and shrinks towards, the smallest and the largest integers: the odd
    # branch sits in the middle of the range so that the simplest cases are well-formed.
    return st.integers(min_value=0, max_value=999).flatmap(lambda n: odd if 50 <= n % 100 < 50 + odd_percent else valid)


_dates = st.dates()
_near_dates = st.dates(min_value=datetime.date(2020, 1, 1), max_value=datetime.date(2035, 12, 31))
_times = st.times().map(lambda t: t.strftime("%H:%M:%S"))
_offsets = st.sampled_from(["Z", "+00:00", "-06:00", "+05:30", "+14:00", "-12:00"])

_long_strings = st.sampled_from(["a" * 256, "a" * 257, "x" * 10_000, "é" * 3000, "😀" * 1000, " " * 300])
_sqlish = st.sampled_from(
    ["%", "_", "%_%", "\\", "'", "''", '"', "' OR '1'='1", "'; DROP TABLE accounts; --", "\u0000", "a\u0000b", "\u0000\u0000"]
)
# Field names of the published schema, filled in once it is loaded (after_load_schema): sorters,
# searches and `exists` take attribute names as strings, and random text never names one.
FIELD_NAMES: list[str] = ["id", "name"]
_field_names = st.deferred(lambda: st.sampled_from(FIELD_NAMES))

# A NUL somewhere in otherwise ordinary text (PostgreSQL refuses it in text; SQLite may cut there).
_with_nul = st.tuples(st.text(max_size=15), st.text(max_size=15)).map(lambda t: f"{t[0]}\u0000{t[1]}")

_out_of_range_int = st.sampled_from([2**31, -(2**31) - 1, 2**32, 2**32 + 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30])


def _datetime(dates):
    return st.tuples(dates, _times, _offsets).map(lambda t: f"{t[0].isoformat()}T{t[1]}{t[2]}")


def _coordinate(limit):
    in_range = st.floats(-limit, limit, allow_nan=False)
    return st.one_of(in_range.map(nodes.Float), in_range.map(str).map(nodes.String), _int(st.integers(-limit, limit)))


SCALARS = {
    # Built-in scalars too: hypothesis-graphql's own Int never leaves 32 bits and its String rarely
    # carries the characters that break databases. An out-of-range Int makes the document invalid,
    # which fathom_rejects_invalid_documents then expects to be refused.
    "Int": _mostly(
        _weighted(
            (6, _int(st.integers(min_value=1, max_value=100))),
            (3, _int(st.integers(min_value=-(2**31), max_value=2**31 - 1))),
            (1, _int(st.sampled_from([0, -1, 1, 2**31 - 1, -(2**31), 10_000, 10_001]))),
        ),
        _int(_out_of_range_int),
    ),
    "String": _mostly(
        _weighted((3, _str(st.text(min_size=1, max_size=30))), (1, _str(_field_names))),
        _weighted((2, _str(_with_nul)), (3, _str(st.one_of(_sqlish, _long_strings, _junk)))),
        odd_percent=5,
    ),
    "Int64Bit": _mostly(
        _weighted(
            (6, _int(_small_id)),
            (3, _str(_small_id.map(str))),
            (1, _int(st.integers(min_value=-(2**63), max_value=2**63 - 1))),
        ),
        st.one_of(
            _int(_int64_edges), _int(st.integers()), _str(st.integers().map(str)), _str(_junk), _int(st.just(0))
        ),
    ),
    "Date": _mostly(
        _weighted((3, _str(_near_dates.map(lambda d: d.isoformat()))), (1, _str(_dates.map(lambda d: d.isoformat())))),
        _str(_junk),
    ),
    "Datetime": _mostly(_weighted((3, _str(_datetime(_near_dates))), (1, _str(_datetime(_dates)))), _str(_junk)),
    "Time": _mostly(_str(_times), _str(_junk)),
    "EmailAddress": _mostly(
        _weighted(
            (4, _str(st.from_regex(r"\A[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}\Z"))), (1, _str(st.emails()))
        ),
        _str(_junk),
    ),
    "Geopoint": _mostly(
        _str(
            st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)).map(
                lambda t: f"{t[0]},{t[1]}"
            )
        ),
        st.one_of(_str(st.tuples(st.floats(), st.floats()).map(lambda t: f"{t[0]},{t[1]}")), _str(_junk)),
    ),
    "HtmlHexColor": _mostly(_str(st.from_regex(r"\A#?[0-9a-fA-F]{6}\Z")), _str(_junk)),
    "Latitude": _mostly(
        _coordinate(90), st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float), _str(_junk))
    ),
    "Longitude": _mostly(
        _coordinate(180), st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float), _str(_junk))
    ),
    "Numeric": _mostly(_str(st.from_regex(r"\A[0-9]{1,15}\Z")), _str(_junk)),
    "Text": _mostly(_str(st.text(min_size=1, max_size=200)), _str(st.one_of(_sqlish, _long_strings, _junk)), odd_percent=5),
    "URL": _mostly(
        _str(st.from_regex(r"\Ahttps?://[a-z0-9-]{1,20}(\.[a-z]{2,6})?(/[a-z0-9_-]{0,10}){0,3}\Z")), _str(_junk)
    ),
    # Webhook endpoints: hosts under .invalid (reserved, never resolves), so that the server's
    # delivery worker never reaches out during a run.
    "HttpsUrl": _mostly(
        _str(st.from_regex(r"\Ahttps://[a-z0-9-]{1,20}\.invalid(/[a-z0-9_-]{0,10}){0,3}\Z")), _str(_junk)
    ),
}

for _name, _strategy in SCALARS.items():
    schemathesis.graphql.scalar(_name, _strategy)


@schemathesis.hook
def after_load_schema(ctx, schema):
    client_schema = getattr(schema, "client_schema", None)
    if client_schema is None:
        return
    names = {
        field
        for type_name, type_ in client_schema.type_map.items()
        if isinstance(type_, graphql.GraphQLObjectType) and not type_name.startswith("__")
        for field in type_.fields
    }
    if names:
        FIELD_NAMES[:] = sorted(names)


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

ERROR_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "VALIDATION_FAILED",
    "CONFLICT",
    "ACCOUNT_NOT_ACTIVE",
    "ACCOUNT_ARCHIVED",
    "SCHEDULED_IN_PAST",
    "EVENT_NOT_PENDING",
    "UNSUPPORTED_EVENT",
    "NO_BILLING_CONTACT",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
    "IDEMPOTENCY_KEY_REUSED",
    "UNAVAILABLE",
    "INTERNAL",
}
# The fuzz server runs with the rate limit off and a valid admin token on every request.
NEVER_EXPECTED_CODES = {"INTERNAL", "UNAUTHENTICATED", "RATE_LIMITED", "UNAVAILABLE"}
ACCEPTED_REFUSALS = {408, 413}
EXPECTED_STATUSES = {200, 400}

TABLES = (
    "account_events|account_services|account_statuses|account_types|accounts|addresses|billing_settings|"
    "companies|contacts|debits|disconnection_logs|discounts|invoice_discount_applications|invoices|logs|"
    "personal_access_tokens|report_activations|report_disconnections|roles|scheduled_events|"
    "serviceable_address_account_assignment_histories|services|system_settings|users|seaql_migrations"
)
LEAK_PATTERNS = [
    re.compile(p)
    for p in (
        r"(?i)\bSELECT\s",
        r"(?i)\bINSERT\s+INTO\b",
        r"INSERT ",
        r"(?i)\bUPDATE\s+\"?\w+\"?\s+SET\b",
        r"(?i)\bDELETE\s+FROM\b",
        r"(?i)\bRETURNING\b",
        r"(?i)syntax error",
        r"(?i)\bno such (table|column)\b",
        r"(?i)relation \"",
        r"(?i)\bduplicate key\b",
        r"(?i)violates (unique|foreign key|check|not-null) constraint",
        r"(?i)(UNIQUE|FOREIGN KEY|CHECK|NOT NULL) constraint failed",
        r"(?i)null value in column",
        r"(?i)invalid byte sequence",
        r"(?i)unsupported Unicode escape",
        r"(?i)database is locked",
        r"(?i)\bSQLITE_\w+",
        r"(?i)\bsqlx\b",
        r"(?i)sea[_-]orm",
        r"DbErr",
        r"RecordNotFound|RecordNotInserted|RecordNotUpdated",
        r"(?i)\bpanicked\b",
        r"(?i)called `(Option|Result)::",
        r"(?i)stack backtrace",
        r"RUST_BACKTRACE",
        r"\.rs:\d+",
        r"\.rs\b",
        r"/src/",
        r"/root/",
        r"/home/",
        r"\.cargo/",
        rf"\b({TABLES})\.[a-z_]+\b",
        r"\b(pool timed out|connection refused|PoolTimedOut)\b",
        # serde / Rust type names (e.g. "invalid value: integer `4294967296`, expected i32")
        r"\bexpected (an? )?[iu](8|16|32|64|128|size)\b",
        r"\binvalid type: \w+",
    )
]


_KINDS: dict[str, type] = {}


def _fail(kind: str, message: str):
    """Raise an AssertionError whose type names `kind`.

    Schemathesis reports one failure per operation for each exception type and raise site, so each
    kind of problem (a code, a leak pattern, a scalar type...) gets a type of its own and is reported
    on its own, instead of hiding behind the first failure of its check.
    """
    if kind not in _KINDS:
        _KINDS[kind] = type(f"FuzzFailure[{kind}]", (AssertionError,), {})
    raise _KINDS[kind](message)


def _payload(response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail("non-json", f"the answer is not valid JSON ({exc}): {response.content[:500]!r}")


def _request_text(case) -> str:
    body = case.body
    if isinstance(body, (dict, list)):
        return json.dumps(body, ensure_ascii=False)
    return str(body)


def _errors(payload) -> list:
    if not isinstance(payload, dict):
        return []
    errors = payload.get("errors")
    return errors if isinstance(errors, list) else []


@schemathesis.check
def fathom_no_server_error(ctx, response, case):
    """No 5xx; only the statuses fathom answers on purpose."""
    status = response.status_code
    if status >= 500:
        _fail(f"http-{status}", f"server error: HTTP {status}")
    if status in ACCEPTED_REFUSALS:
        return True
    if status not in EXPECTED_STATUSES:
        _fail(f"http-{status}", f"unexpected HTTP status {status} (expected 200 or 400; 408/413 accepted)")
    return True


@schemathesis.check
def fathom_error_codes(ctx, response, case):
    """The body is a GraphQL JSON object; every error carries a documented code, never INTERNAL."""
    if response.status_code in ACCEPTED_REFUSALS:
        return True
    payload = _payload(response)
    if not isinstance(payload, dict):
        _fail("not-object", f"the answer is not a JSON object: {type(payload).__name__}")
    extra = set(payload) - {"data", "errors", "extensions"}
    if extra:
        _fail("top-level-keys", f"unexpected top-level keys {sorted(extra)}")
    if "data" not in payload and "errors" not in payload:
        _fail("no-data-no-errors", "the answer has neither `data` nor `errors`")
    if "errors" in payload and not isinstance(payload["errors"], list):
        _fail("errors-not-list", "`errors` is not a list")
    if payload.get("data") is None and not _errors(payload):
        _fail("null-data-no-error", "`data` is null (or missing) and there is no error")
    problems = []  # (kind, message)
    for index, error in enumerate(_errors(payload)):
        if not isinstance(error, dict):
            problems.append(("error-not-object", f"errors[{index}] is not an object"))
            continue
        if not isinstance(error.get("message"), str) or not error["message"]:
            problems.append(("no-message", f"errors[{index}] has no message"))
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if code is None:
            problems.append(("no-code", f"errors[{index}] has no extensions.code: {error.get('message')!r}"))
        elif code not in ERROR_CODES:
            problems.append((f"code-{code}", f"errors[{index}] has an undocumented code {code!r}: {error.get('message')!r}"))
        elif code in NEVER_EXPECTED_CODES:
            problems.append((f"code-{code}", f"errors[{index}] has code {code}: {error.get('message')!r}"))
    if problems:
        _fail(problems[0][0], "; ".join(message for _, message in problems))
    return True


@schemathesis.check
def fathom_no_leak(ctx, response, case):
    """No error message or extension shows internals (SQL, tables, driver, panics, paths)."""
    if response.status_code in ACCEPTED_REFUSALS:
        return True
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if payload is None:
        texts = [response.content.decode("utf-8", "replace")]
    else:
        texts = [json.dumps(error, ensure_ascii=False) for error in _errors(payload)]
    request = _request_text(case)
    for text in texts:
        for number, pattern in enumerate(LEAK_PATTERNS):
            for match in pattern.finditer(text):
                # An error may quote the caller's own input; that is not a leak.
                if match.group(0) in request:
                    continue
                _fail(f"leak-{number}", f"error leaks internals ({pattern.pattern!r} matched {match.group(0)!r}): {text[:800]}")
    return True


@schemathesis.check
def fathom_rejects_invalid_documents(ctx, response, case):
    """A document the published schema rejects (e.g. an Int beyond 32 bits) must not be executed."""
    if response.status_code in ACCEPTED_REFUSALS:
        return True
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return True  # reported by fathom_error_codes
    if not isinstance(payload, dict) or _errors(payload):
        return True
    body = case.body
    query = body.get("query") if isinstance(body, dict) else body
    try:
        document = graphql.parse(query)
    except Exception:  # noqa: BLE001
        return True
    problems = graphql.validate(case.operation.schema.client_schema, document)
    if problems:
        # One failure per kind of violation: the message without its values.
        kind = re.sub(r"-?[0-9]+|\"[^\"]*\"|'[^']*'", "_", problems[0].message)
        _fail(
            f"invalid-document {kind}",
            "an invalid document was executed without an error: " + "; ".join(p.message for p in problems[:5]),
        )
    return True


# --- data conformance -------------------------------------------------------------------------

_INT_RE = re.compile(r"\A-?[0-9]+\Z")
_DATE_RE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIME_RE = re.compile(r"\A[0-9]{2}:[0-9]{2}:[0-9]{2}\Z")


def _valid_date(value) -> bool:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _valid_datetime(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


SCALAR_VALIDATORS = {
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "Float": _is_number,
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "ID": lambda v: isinstance(v, str),
    "Int64Bit": lambda v: isinstance(v, str) and bool(_INT_RE.match(v)) and -(2**63) <= int(v) < 2**63,
    "Date": _valid_date,
    "Datetime": _valid_datetime,
    "Time": lambda v: isinstance(v, str) and bool(_TIME_RE.match(v)),
    "EmailAddress": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, str),
    "Text": lambda v: isinstance(v, str),
    "URL": lambda v: isinstance(v, str),
    "HttpsUrl": lambda v: isinstance(v, str),
    "HtmlHexColor": lambda v: isinstance(v, str),
    "Geopoint": lambda v: isinstance(v, str),
    "Latitude": lambda v: isinstance(v, str) or _is_number(v),
    "Longitude": lambda v: isinstance(v, str) or _is_number(v),
}


class _Walker:
    def __init__(self, schema: graphql.GraphQLSchema, fragments: dict[str, graphql.FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.problems: list[str] = []

    def problem(self, kind, path, message):
        if len(self.problems) < 10:
            self.problems.append((kind, f"{'.'.join(str(p) for p in path) or '<root>'}: {message}"))

    def _applies(self, condition: str | None, runtime: graphql.GraphQLNamedType | None, declared) -> bool | None:
        """Does a fragment on `condition` apply? None when unknown (abstract type, no __typename)."""
        if condition is None:
            return True
        cond_type = self.schema.get_type(condition)
        if cond_type is None:
            return False
        target = runtime if runtime is not None else declared
        if target is cond_type:
            return True
        if isinstance(target, graphql.GraphQLObjectType) and graphql.is_abstract_type(cond_type):
            return self.schema.is_sub_type(cond_type, target)
        if runtime is None:
            return None
        return False

    def collect(self, selection_set, runtime, declared, out, certain=True):
        """response key -> list of (field node, parent type, certain)."""
        for selection in selection_set.selections:
            conditional = certain and not any(
                d.name.value in ("skip", "include") for d in (selection.directives or ())
            )
            if isinstance(selection, graphql.FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append((selection, runtime or declared, conditional))
            elif isinstance(selection, graphql.InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                applies = self._applies(condition, runtime, declared)
                if applies is False:
                    continue
                parent = self.schema.get_type(condition) if condition else (runtime or declared)
                self.collect(selection.selection_set, runtime, parent, out, conditional and applies is True)
            elif isinstance(selection, graphql.FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition = fragment.type_condition.name.value
                applies = self._applies(condition, runtime, declared)
                if applies is False:
                    continue
                self.collect(
                    fragment.selection_set, runtime, self.schema.get_type(condition), out, conditional and applies is True
                )
        return out

    def object(self, value, type_, selection_set, path):
        if not isinstance(value, dict):
            self.problem("not-an-object", path, f"expected an object of type {type_.name}, got {json.dumps(value)[:100]}")
            return
        runtime = type_ if isinstance(type_, graphql.GraphQLObjectType) else None
        typename = value.get("__typename")
        if runtime is None and isinstance(typename, str):
            candidate = self.schema.get_type(typename)
            if isinstance(candidate, graphql.GraphQLObjectType) and self.schema.is_sub_type(type_, candidate):
                runtime = candidate
            else:
                self.problem("typename", path, f"__typename {typename!r} is not a possible type of {type_.name}")
                return
        fields = self.collect(selection_set, runtime, type_, {})
        for key in value:
            if key not in fields:
                self.problem("unselected-field", path + [key], "a field that was not selected")
        for key, entries in fields.items():
            if key not in value:
                if any(certain for _, _, certain in entries):
                    self.problem("missing-field", path + [key], "a selected field is missing")
                continue
            node, parent, _ = entries[0]
            name = node.name.value
            if name == "__typename":
                expected = runtime.name if runtime is not None else None
                if not isinstance(value[key], str) or (expected and value[key] != expected):
                    self.problem("typename", path + [key], f"__typename {value[key]!r}, expected {expected or 'a type name'}")
                continue
            if name.startswith("__"):
                continue  # introspection: not fuzzed
            if not hasattr(parent, "fields") or name not in parent.fields:
                self.problem("unknown-field", path + [key], f"field {name} is not on {getattr(parent, 'name', parent)}")
                continue
            field_type = parent.fields[name].type
            sub_selection = graphql.SelectionSetNode(
                selections=tuple(s for n, _, _ in entries if n.selection_set for s in n.selection_set.selections)
            )
            self.value(value[key], field_type, sub_selection, path + [key])

    def value(self, value, type_, selection_set, path):
        if isinstance(type_, graphql.GraphQLNonNull):
            if value is None:
                self.problem("null-in-non-null", path, f"null in non-null position {type_}")
                return
            type_ = type_.of_type
        if value is None:
            return
        if isinstance(type_, graphql.GraphQLList):
            if not isinstance(value, list):
                self.problem("not-a-list", path, f"expected a list ({type_}), got {json.dumps(value)[:100]}")
                return
            for index, item in enumerate(value):
                self.value(item, type_.of_type, selection_set, path + [index])
            return
        if isinstance(type_, graphql.GraphQLEnumType):
            if not isinstance(value, str) or value not in type_.values:
                self.problem(f"enum-{type_.name}", path, f"{json.dumps(value)[:100]} is not a value of enum {type_.name}")
            return
        if isinstance(type_, graphql.GraphQLScalarType):
            validator = SCALAR_VALIDATORS.get(type_.name)
            if validator is not None and not validator(value):
                self.problem(f"scalar-{type_.name}", path, f"{json.dumps(value)[:100]} is not a valid {type_.name}")
            return
        self.object(value, type_, selection_set, path)


# Known deviations a run may tolerate (comma-separated FUZZ_TOLERATE), each named where it applies.
_TOLERATED = {t.strip() for t in os.environ.get("FUZZ_TOLERATE", "").split(",") if t.strip()}


@schemathesis.check
def fathom_data_conforms(ctx, response, case):
    """`data` has exactly the selected fields, with values of the published types."""
    if response.status_code in ACCEPTED_REFUSALS:
        return True
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return True  # reported by fathom_error_codes
    if not isinstance(payload, dict) or payload.get("data") is None:
        return True
    body = case.body
    query = body.get("query") if isinstance(body, dict) else body
    try:
        document = graphql.parse(query)
    except Exception:  # noqa: BLE001 - not a query we can follow
        return True
    schema = case.operation.schema.client_schema
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1:
        return True
    operation = operations[0]
    root = {
        graphql.OperationType.QUERY: schema.query_type,
        graphql.OperationType.MUTATION: schema.mutation_type,
    }.get(operation.operation)
    if root is None:
        return True
    walker = _Walker(schema, fragments)
    walker.object(payload["data"], root, operation.selection_set, [])
    if "omitted-on-error" in _TOLERATED and payload.get("errors"):
        # A field whose resolver failed is left out of `data` (and a non-null parent of it may be
        # null) instead of being null with the null propagated: async-graphql's dynamic schema
        # does this, and fathom's error-shape work (the GraphQL-spec errors issue) fixes it. With
        # FUZZ_TOLERATE=omitted-on-error, only such answers that also carry an error pass.
        walker.problems = [p for p in walker.problems if p[0] not in ("missing-field", "null-in-non-null")]
    if walker.problems:
        _fail(
            walker.problems[0][0],
            "the answer does not conform to the schema: " + "; ".join(message for _, message in walker.problems),
        )
    return True


# ---------------------------------------------------------------------------------------------
# Keep the run on its feet: the fuzz server's own tokens must not be deleted mid-run (every later
# request would be UNAUTHENTICATED). FUZZ_PROTECTED_TOKEN_IDS lists them.
# ---------------------------------------------------------------------------------------------

_PROTECTED = {s.strip().lstrip("0") or "0" for s in os.environ.get("FUZZ_PROTECTED_TOKEN_IDS", "").split(",") if s.strip()}
_HARMLESS_ID = graphql.IntValueNode(value="2000000000")


def _is_protected(value: graphql.ValueNode) -> bool:
    if isinstance(value, graphql.VariableNode):
        return True
    # Any run of digits that names a protected id, however the server would parse the rest.
    return any((digits.lstrip("0") or "0") in _PROTECTED for digits in re.findall(r"[0-9]+", graphql.print_ast(value)))


class _SpareTokens(graphql.Visitor):
    def enter_field(self, node, *_):
        if node.name.value != "deletePersonalAccessToken":
            return None
        arguments = tuple(
            graphql.ArgumentNode(name=a.name, value=_HARMLESS_ID) if _is_protected(a.value) else a
            for a in (node.arguments or ())
        )
        return graphql.FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=arguments,
            directives=node.directives,
            selection_set=node.selection_set,
        )


@schemathesis.hook
def map_case(ctx, case):
    """Point a deletePersonalAccessToken at a harmless id when it names one of the run's own tokens."""
    if not _PROTECTED:
        return case
    body = case.body
    query = body.get("query") if isinstance(body, dict) else body
    if not isinstance(query, str) or "deletePersonalAccessToken" not in query:
        return case
    try:
        document = graphql.parse(query)
    except Exception:  # noqa: BLE001 - not a query we can follow; leave it alone
        return case
    rewritten = graphql.print_ast(graphql.visit(document, _SpareTokens()))
    if isinstance(body, dict):
        case.body = {**body, "query": rewritten}
    else:
        case.body = rewritten
    return case


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    # 408 (timeout) and 413 (body too large) are fathom's deliberate refusals; their bodies may not be
    # GraphQL JSON, so the built-in response checks have nothing to say about them.
    return response is None or response.status_code not in ACCEPTED_REFUSALS
