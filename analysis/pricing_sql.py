"""The SQL that prices every call: model id -> price family, and the cost columns.

Prices are data (``prices.csv`` loaded into ``model_prices``, see
:mod:`tokentrail.analysis.price_file`), and a call is priced by SQL in the ``llm_calls``
view, so every ingest path gets the same numbers, a stock OpenTelemetry Collector into
a ClickHouse server included (docs/design.md, "The analysis layer"), and a price change
or a user's override applies to stored calls at their next query.

How it stays fast (measured in ``bench/cost.py``): no JOIN and no dictionary. The price
table is read once per query by two scalar subqueries into constant arrays, and
``transform(key, keys, values)`` looks a call's prices up. The key is computed from
``model`` alone, which is ``LowCardinality``, so ClickHouse evaluates the normalisation
regexes and the lookups once per distinct model, not once per row. (A dictionary would
do the same, but a ClickHouse-source dictionary on a server needs the credentials of a
user to read its own table; this needs nothing and behaves the same on chDB, a server
and a cluster.) Only calls older than their family's latest price change take the slow
path, a scan of the short array of price versions.

Stdlib only: :mod:`tokentrail.store.schema` imports it for the live view definitions.
"""

from __future__ import annotations

import re

# --- model id -> price family (docs/facts.md §2: a dated id prices as its family) ---
# Applied in order to the lower-cased id. Written for both Python's ``re`` and
# ClickHouse's RE2, so :func:`normalize_model_id` is the exact twin of the SQL.
#
# Platform decoration in front: a path (Bedrock ARN ``…/inference-profile/``, Vertex
# ``publishers/anthropic/models/``, OpenRouter ``anthropic/``), a Bedrock cross-region
# inference prefix (``us.``, ``global.``, …) and Bedrock's provider prefix ``anthropic.``.
MODEL_PREFIX = r"^(?:.*/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\.)?(?:anthropic\.)?"
# Decoration behind: a snapshot date (``-20250929``) or ``-latest``, a Bedrock version
# (``-v1:0``, ``-v2``), a Vertex snapshot (``@20250929``), Claude Code's context tag
# (``[1m]``).
MODEL_SUFFIX = (r"(?:-(?:[0-9]{8}|latest))?(?:-v[0-9]+(?::[0-9]+)?)?(?:@[0-9a-z._-]+)?"
                r"(?:\[[^]]*\])?$")
# Dotted versions (``claude-sonnet-4.5``, ``claude-3.5-haiku``) as the API spells them.
MODEL_VERSION_DOT = r"([0-9])\.([0-9])"


def normalize_model_id(model: str) -> str:
    """The price family a model id is looked up as (the Python twin of
    :func:`normalized_model_sql`; the price file's families must be fixed points)."""
    value = re.sub(MODEL_PREFIX, "", model.strip().lower(), count=1)
    value = re.sub(MODEL_SUFFIX, "", value, count=1)
    return re.sub(MODEL_VERSION_DOT, r"\1-\2", value)


def sql_string(value: str) -> str:
    """A ClickHouse string literal (for the constants above, never for input)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def normalized_model_sql(column: str = "model") -> str:
    """SQL: the price family of the model id in ``column``."""
    value = f"lower(trimBoth({column}))"
    value = f"replaceRegexpOne({value}, {sql_string(MODEL_PREFIX)}, '')"
    value = f"replaceRegexpOne({value}, {sql_string(MODEL_SUFFIX)}, '')"
    return f"replaceRegexpAll({value}, {sql_string(MODEL_VERSION_DOT)}, '\\\\1-\\\\2')"


# --- the price table as the lookup reads it ---
PRICES_TABLE = "model_prices"
VERSIONS_VIEW = "model_price_versions"

# Per-token rates of one tier, in model_price_versions (base tier, then the upper tier).
BUCKETS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


def versions_select() -> str:
    """SELECT of ``model_price_versions``: one row per model id (family or alias) and
    price version of the latest load of ``model_prices``, tiers side by side, USD per
    token. It is what the lookup reads, and readable by people too."""
    base = ",\n        ".join(
        f"anyIf({b}_usd_per_mtok, tier = 0) / 1e6 AS {b}_usd" for b in BUCKETS)
    upper = ",\n        ".join(
        f"anyIf({b}_usd_per_mtok, tier = 1) / 1e6 AS tier_{b}_usd" for b in BUCKETS)
    # Built from the constants above only.
    return f"""
SELECT
    model_id,
    cityHash64(model_id) AS model_key,
    family,
    effective_from,
    {", ".join(f"{b}_usd" for b in BUCKETS)},
    tier_above_input_tokens,
    tier_beta,
    {", ".join(f"tier_{b}_usd" for b in BUCKETS)},
    batch_multiplier,
    fast_multiplier,
    inference_geo_us_multiplier,
    web_search_usd,
    web_fetch_usd,
    status,
    source
FROM (
    SELECT
        family,
        effective_from,
        groupUniqArrayArray(aliases) AS aliases,
        {base},
        maxIf(tier_above_input_tokens, tier = 1) AS tier_above_input_tokens,
        anyIf(tier_beta, tier = 1) AS tier_beta,
        {upper},
        anyIf(batch_multiplier, tier = 0) AS batch_multiplier,
        anyIf(fast_multiplier, tier = 0) AS fast_multiplier,
        anyIf(inference_geo_us_multiplier, tier = 0) AS inference_geo_us_multiplier,
        anyIf(web_search_per_1k, tier = 0) / 1000 AS web_search_usd,
        anyIf(web_fetch_per_1k, tier = 0) / 1000 AS web_fetch_usd,
        arrayStringConcat(groupArray(status), ', ') AS status,
        arrayStringConcat(groupArray(source), ' | ') AS source
    FROM {PRICES_TABLE}
    WHERE load_id = (SELECT max(load_id) FROM {PRICES_TABLE})
    GROUP BY family, effective_from
)
ARRAY JOIN arrayConcat([family], aliases) AS model_id
"""  # noqa: S608


# The lookup, one row per load in model_price_slots, written by prices.sync right after
# the load (a pivot at query time would cost every query 15-70 ms):
#
# * per price version, sorted by model key and date: the key, the date it starts, the
#   family, and the whole-request tier (threshold, beta);
# * per model key, the position of its latest version;
# * the *final* per-token rates and per-request fees for every combination of a
#   version (position i, 0 for no price), the call's mode (batch, speed, geography:
#   ``_MODES``) and tier (u), at position ``i * 2 * MODES + mode * 2 + u`` (+1), nan
#   where the call cannot be priced. So a call's price is one LowCardinality key and
#   direct lookups, and every multiplier has been applied once per load, not per row.
LOOKUP_TABLE = "model_price_slots"
_SPEEDS = ("standard", "fast", "other")        # code 0 for '' and 'standard'
_GEOS = ("global", "us", "other")              # code 0 for '' and 'global'
_MODES = 2 * len(_SPEEDS) * len(_GEOS)         # batch x speed x geography
_SLOTS = 2 * _MODES                            # x tier (base, upper)
_VERSION_COLUMNS = (
    ("model_key", "UInt64", "model_key"),
    ("effective_from", "Date", "effective_from"),
    ("family", "String", "family"),
)
# Whole-request tiers may require a beta; the betas that do (at most TIER_BETAS of them,
# price_file checks) are constants of the lookup, and each version's threshold is
# given for every combination of them in use (bit j: the call used tier_betas[j + 1]).
TIER_BETAS = 2
_BETA_SETS = 2 ** TIER_BETAS
_NO_TIER = "18446744073709551615"  # a threshold no request reaches
_PRICED = (*(f"rate_{b}" for b in BUCKETS), "fee_web_search", "fee_web_fetch")
_LOOKUP = (
    *((name, kind) for name, kind, _ in _VERSION_COLUMNS),
    ("latest_keys", "UInt64"),
    ("latest_index", "UInt32"),
    ("tier_betas", "String"),
    ("tier_above", "UInt64"),
    *((name, "Float64") for name in _PRICED),
)
_POSITION = {name: i + 1 for i, (name, _) in enumerate(_LOOKUP)}


def lookup_columns() -> str:
    """Column definitions of ``model_price_slots``."""
    return ",\n    ".join(["load_id UInt64"] + [f"{name} Array({kind})"
                                                 for name, kind in _LOOKUP])


def _combination(value: str) -> str:
    """SQL: ``value`` (over version arrays ``v_*`` at position ``[i]``, tier ``u = 1``)
    for every slot ``p`` (0-based), with ``{multiplier}`` the multiplier of the slot's
    mode, nan when the mode has no price; nan for version 0 (no price). nan, not NULL:
    the costs are summed as plain floats and turned NULL once, at the end."""
    speeds, geos = len(_SPEEDS), len(_GEOS)
    mode = f"intDiv(p % {_SLOTS}, 2)"
    batch, speed, geo = (f"intDiv({mode}, {speeds * geos})",
                         f"intDiv({mode} % {speeds * geos}, {geos})", f"{mode} % {geos}")
    multiplier = (f"if({batch} = 1, v_batch[i], 1.)"
                  f" * multiIf({speed} = 0, 1., {speed} = 1 AND v_fast[i] > 0, v_fast[i], nan)"
                  f" * multiIf({geo} = 0, 1., {geo} = 1 AND v_geo_us[i] > 0, v_geo_us[i], nan)")
    body = value.format(multiplier=multiplier).replace("[i]", f"[intDiv(p, {_SLOTS})]")
    body = body.replace("u = 1", "p % 2 = 1")
    return (f"arrayMap(p -> if(intDiv(p, {_SLOTS}) = 0, nan, {body}), "
            f"range(toUInt32((length(model_key) + 1) * {_SLOTS})))")


def lookup_select() -> str:
    """SELECT of the lookup row of the latest load (parameter ``load_id``)."""
    versions = ",\n        ".join(f"groupArray({expr}) AS {name}"
                                  for name, _, expr in _VERSION_COLUMNS)
    per_version = ",\n        ".join(
        [f"groupArray({b}_usd) AS v_{b}" for b in BUCKETS]
        + [f"groupArray(tier_{b}_usd) AS v_tier_{b}" for b in BUCKETS]
        + ["groupArray(batch_multiplier) AS v_batch",
           "groupArray(ifNull(fast_multiplier, 0)) AS v_fast",
           "groupArray(ifNull(inference_geo_us_multiplier, 0)) AS v_geo_us",
           "groupArray(web_search_usd) AS v_web_search",
           "groupArray(web_fetch_usd) AS v_web_fetch"])
    # The tier's rates where the call is above it, else the base rates; then the mode.
    rates = ",\n    ".join(
        _combination(f"if(u = 1, v_tier_{b}[i], v_{b}[i]) * {{multiplier}}") + f" AS rate_{b}"
        for b in BUCKETS)
    # Fees are not multiplied, but a call that cannot be priced gets none either.
    fees = ",\n    ".join(
        _combination(f"v_web_{tool}[i] * ({{multiplier}} * 0 + 1)") + f" AS fee_web_{tool}"
        for tool in ("search", "fetch"))
    # The threshold of version i (0: none) when the betas of set m are in use.
    thresholds = (
        f"arrayMap(p -> (intDiv(p, {_BETA_SETS}) AS i, p % {_BETA_SETS} AS m, "
        f"if(i = 0 OR v_tier_above[i] = 0, {_NO_TIER}, "
        "if(v_tier_beta[i] = '' OR bitTest(m, indexOf(tier_betas, v_tier_beta[i]) - 1), "
        f"v_tier_above[i], {_NO_TIER}))).3, "
        f"range(toUInt32((length(model_key) + 1) * {_BETA_SETS})))")
    return f"""
SELECT
    {{load_id:UInt64}} AS load_id,
    {", ".join(name for name, _, _ in _VERSION_COLUMNS)},
    arrayDistinct(model_key) AS latest_keys,
    arrayMap(k -> toUInt32(arrayLastIndex(x -> x = k, model_key)), latest_keys) AS latest_index,
    arrayResize(arrayFilter(b -> b != '', arrayDistinct(v_tier_beta)), {TIER_BETAS}, '')
        AS tier_betas,
    {thresholds} AS tier_above,
    {rates},
    {fees}
FROM (
    SELECT
        {versions},
        groupArray(tier_above_input_tokens) AS v_tier_above,
        groupArray(tier_beta) AS v_tier_beta,
        {per_version}
    FROM (SELECT * FROM {VERSIONS_VIEW} ORDER BY model_key, effective_from)
)
"""  # noqa: S608


def _arrays() -> str:
    """One scalar subquery: the latest lookup row as a tuple of arrays (empty arrays
    before any load), constants for the rest of the query."""
    names = ", ".join(name for name, _ in _LOOKUP)
    return f"(SELECT argMax(tuple({names}), load_id) FROM {LOOKUP_TABLE})"  # noqa: S608


def _at(name: str, index: str) -> str:
    """Lookup array ``name`` at ``index`` (0 gives the type's default or NULL)."""
    return f"arrayElement(_price_all.{_POSITION[name]}, {index})"


def _version_index() -> str:
    """SQL: the position of the price version in force on the call's day. The arrays
    are sorted by model key and date, so a model's latest version is the last of its
    key, at ``_price_latest``; only a call older than that (short-circuit) searches
    the versions."""
    keys = f"_price_all.{_POSITION['model_key']}"
    dates = f"_price_all.{_POSITION['effective_from']}"
    return (f"if(_price_day >= {_at('effective_from', '_price_latest')}, _price_latest,\n"
            "   toUInt32(arrayLastIndex((k, f) -> k = _price_key AND f <= _price_day,\n"
            f"                           {keys}, {dates})))")


# The cost columns of llm_calls, in order (docs/design.md, "The analysis layer").
COST_COLUMNS = (
    "price_model",
    "rate_input_usd", "rate_cache_read_usd", "rate_cache_write_5m_usd",
    "rate_cache_write_1h_usd", "rate_output_usd",
    "cost_input_usd", "cost_cache_read_usd", "cost_cache_write_5m_usd",
    "cost_cache_write_1h_usd", "cost_output_usd", "cost_server_tools_usd",
    "cost_usd", "cost_uncached_usd",
)
_TOTAL_INPUT = ("(input_tokens + cache_read_tokens + cache_write_5m_tokens "
                "+ cache_write_1h_tokens)")
_RATE_NAMES = {"input": "rate_input_usd", "cache_read": "rate_cache_read_usd",
               "cache_write_5m": "rate_cache_write_5m_usd",
               "cache_write_1h": "rate_cache_write_1h_usd", "output": "rate_output_usd"}


def _layer(items: list[str], inner: str, *, drop: tuple[str, ...] = (),
           with_: str = "") -> str:
    """``SELECT * [EXCEPT drop], items FROM (inner)``, indented."""
    star = f"* EXCEPT ({', '.join(drop)})" if drop else "*"
    body = ",\n    ".join([star, *items])
    nested = "\n".join("    " + line for line in inner.strip().splitlines())
    return f"{with_}SELECT {body}\nFROM (\n{nested}\n)"


def priced_select(base: str) -> str:
    """``base`` (a SELECT of llm_call_reports' columns) with the cost columns added.

    Per call, three steps, each a layer so that ClickHouse computes it once (it turns
    the lookup arrays into literals and copies an alias's expression into every use):

    1. the price version: ``_price_latest``, the model's latest, once per distinct model
       (``transform`` over the LowCardinality model with constant arrays), and
       ``_price_index``, the version in force on the call's day;
    2. the slot: that version, the call's mode (Message Batches, ``speed``,
       ``inference_geo``) and whether its total input is above the version's
       whole-request tier (with the tier's beta in use) -- one LowCardinality number;
    3. the rates and fees of the slot (looked up once per distinct slot), and the costs.

    Nothing here evaluates a lookup inside an ``if`` branch: ClickHouse evaluates
    branches lazily, and a lazily evaluated lookup copies its constant array per row.
    """
    speed = (f"transform(speed, ['', 'standard', 'fast'], [0, 0, 1], "
             f"{len(_SPEEDS) - 1})")
    geo = (f"transform(inference_geo, ['', 'global', 'us'], [0, 0, 1], "
           f"{len(_GEOS) - 1})")
    mode = f"(is_batch * {len(_SPEEDS) * len(_GEOS)} + {speed} * {len(_GEOS)} + {geo})"
    # Above the threshold of the version's tier, for the tier-gating betas in use.
    betas_in_use = " + ".join(
        f"{2 ** j} * has(betas, _price_all.{_POSITION['tier_betas']}[{j + 1}])"
        for j in range(TIER_BETAS))
    threshold_at = f"_price_index * {_BETA_SETS} + {betas_in_use} + 1"
    upper = f"({_TOTAL_INPUT} > {_at('tier_above', threshold_at)})"
    layer1 = _layer(
        ["transform(_price_key, "
         f"_price_all.{_POSITION['latest_keys']}, _price_all.{_POSITION['latest_index']}, "
         "toUInt32(0)) AS _price_latest",
         f"{_version_index()} AS _price_index"],
        base,
        with_=(f"WITH cityHash64({normalized_model_sql('model')}) AS _price_key,\n"
               "     toDate(timestamp) AS _price_day\n"))
    layer2 = _layer(
        [f"{_at('family', '_price_latest')} AS price_model",
         f"toLowCardinality(toUInt32(_price_index * {_SLOTS} + {mode} * 2 + {upper} + 1))"
         " AS _price_slot"],
        layer1, drop=("_price_latest", "_price_index"))
    # Plain floats, nan for "no price" (it survives every sum), NULL once at the end.
    rates = {b: f"_price_rate_{b}" for b in BUCKETS}
    layer3 = _layer(
        [f"{_at(f'rate_{b}', '_price_slot')} AS {rates[b]}" for b in BUCKETS]
        + [f"web_search_requests * {_at('fee_web_search', '_price_slot')}"
           f" + web_fetch_requests * {_at('fee_web_fetch', '_price_slot')} AS _price_fees"],
        layer2, drop=("_price_slot",))
    tokens = {"input": "input_tokens", "cache_read": "cache_read_tokens",
              "cache_write_5m": "cache_write_5m_tokens",
              "cache_write_1h": "cache_write_1h_tokens", "output": "output_tokens"}
    total = " + ".join(f"{tokens[b]} * {rates[b]}" for b in BUCKETS) + " + _price_fees"
    uncached = (f"{_TOTAL_INPUT} * {rates['input']} + output_tokens * {rates['output']}"
                " + _price_fees")
    costs = [
        *(_null_if_nan(rates[b], name) for b, name in _RATE_NAMES.items()),
        *(_null_if_nan(f"{tokens[b]} * {rates[b]}", f"cost_{b}_usd") for b in
          ("input", "cache_read", "cache_write_5m", "cache_write_1h", "output")),
        _null_if_nan("_price_fees", "cost_server_tools_usd"),
        _null_if_nan(total, "cost_usd"),
        _null_if_nan(uncached, "cost_uncached_usd"),
    ]
    # Built from constants only; ``base`` is tokentrail's own SQL.
    return "\n" + _layer(costs, layer3, drop=(*rates.values(), "_price_fees"),
                         with_=f"WITH {_arrays()} AS _price_all\n")


def _null_if_nan(value: str, name: str) -> str:
    """``value AS name``, NULL where it is nan (no price). ``x + NULL`` is NULL and
    ``x + 0`` is x: no branch to evaluate lazily."""
    return f"({value}) + nullIf(isNaN({value}), 1) AS {name}"


# Claude Code reports its own estimate (docs/facts.md §2): where it and tokentrail differ
# by more than a millionth of a dollar, a price table (its or ours) is stale.
DISAGREEMENT_USD = 0.000001


def disagreements_select() -> str:
    """SELECT of ``cost_disagreements``: calls whose source reported a cost that
    tokentrail's price differs from, with both numbers."""
    return f"""
SELECT
    timestamp, call_id, run_id, service_name, source, model, price_model,
    input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    output_tokens, is_batch,
    reported_cost_usd,
    cost_usd,
    cost_usd - reported_cost_usd AS difference_usd
FROM llm_calls
WHERE reported_cost_usd IS NOT NULL
  AND (cost_usd IS NULL OR abs(cost_usd - reported_cost_usd) > {DISAGREEMENT_USD:.6f})
"""  # noqa: S608
