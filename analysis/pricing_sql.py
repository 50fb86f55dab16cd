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


# The lookup: every price version of a load as parallel arrays sorted by model key and
# date, one row per load in model_price_lookup (written by prices.sync right after the
# load; a pivot at query time would cost every query ~15-70 ms). Each entry: column,
# element type, expression over model_price_versions. Nullable multipliers become 0
# ("not offered": a call that used it gets no price).
LOOKUP_TABLE = "model_price_lookup"
_LOOKUP = (
    ("model_key", "UInt64", "model_key"),
    ("effective_from", "Date", "effective_from"),
    ("family", "String", "family"),
    *((f"{b}_usd", "Float64", f"{b}_usd") for b in BUCKETS),
    ("tier_above", "UInt64", "tier_above_input_tokens"),
    ("tier_beta", "String", "tier_beta"),
    *((f"tier_{b}_usd", "Float64", f"tier_{b}_usd") for b in BUCKETS),
    ("batch", "Float64", "batch_multiplier"),
    ("fast", "Float64", "ifNull(fast_multiplier, 0)"),
    ("geo_us", "Float64", "ifNull(inference_geo_us_multiplier, 0)"),
    ("web_search", "Float64", "web_search_usd"),
    ("web_fetch", "Float64", "web_fetch_usd"),
    # Per distinct model key, the position of its latest version.
    ("latest_keys", "UInt64", None),
    ("latest_index", "UInt32", None),
)
_POSITION = {name: i + 1 for i, (name, _, _) in enumerate(_LOOKUP)}


def lookup_columns() -> str:
    """Column definitions of ``model_price_lookup``."""
    return ",\n    ".join(["load_id UInt64"] + [f"{name} Array({kind})"
                                                 for name, kind, _ in _LOOKUP])


def lookup_select() -> str:
    """SELECT of the lookup row of the latest load (parameter ``load_id``)."""
    items = ",\n    ".join(f"groupArray({expr}) AS {name}"
                            for name, _, expr in _LOOKUP if expr is not None)
    return f"""
SELECT
    {{load_id:UInt64}} AS load_id,
    {items},
    arrayDistinct(model_key) AS latest_keys,
    arrayMap(k -> toUInt32(arrayLastIndex(x -> x = k, model_key)), latest_keys) AS latest_index
FROM (SELECT * FROM {VERSIONS_VIEW} ORDER BY model_key, effective_from)
"""  # noqa: S608


def _arrays() -> str:
    """One scalar subquery: the latest lookup row as a tuple of arrays (empty arrays
    before any load), constants for the rest of the query."""
    names = ", ".join(name for name, _, _ in _LOOKUP)
    return f"(SELECT argMax(tuple({names}), load_id) FROM {LOOKUP_TABLE})"  # noqa: S608


def _at(name: str, index: str = "_price_index") -> str:
    """Attribute ``name`` of the price version at ``index`` (0, an unknown model, gives
    the type's default). Only ever at the top level of a SELECT item: inside an
    ``if`` branch ClickHouse would copy the constant array into every row."""
    return f"arrayElement(_price_all.{_POSITION[name]}, {index})"


def _version_index() -> str:
    """SQL: the position of the price version in force on the call's day. The arrays
    are sorted by model key and date, so a model's latest version is the last of its
    key, at ``_price_latest``; only a call older than that (short-circuit) searches
    the versions. LowCardinality again, so the lookups that use it run once per
    distinct version, not once per row."""
    keys = f"_price_all.{_POSITION['model_key']}"
    dates = f"_price_all.{_POSITION['effective_from']}"
    return (f"toLowCardinality(if(_price_day >= {_at('effective_from', '_price_latest')},\n"
            "                    _price_latest,\n"
            "                    toUInt32(arrayLastIndex((k, f) -> k = _price_key AND "
            "f <= _price_day,\n"
            f"                                            {keys}, {dates}))))")


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
# Per-version attributes the rates need, looked up once per call (layer 2).
_GATHERED = ("tier_above", "tier_beta", "batch", "fast", "geo_us", "web_search",
             "web_fetch", *(f"{b}_usd" for b in BUCKETS),
             *(f"tier_{b}_usd" for b in BUCKETS))
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

    In layers, innermost first, so that each per-call fact is a column computed once
    (ClickHouse turns the lookup arrays into literals and copies an alias's expression
    into every use, which would make the query, and its planning, explode):

    1. the price version: ``_price_latest``, the model's latest, once per distinct
       model (``transform`` over the LowCardinality key and constant arrays), and
       ``_price_index``, the version in force on the call's day;
    2. that version's prices and multipliers;
    3. what the price depends on besides tokens (docs/facts.md §2): the whole-request
       tier, and the product of the batch / fast / US-only multipliers, NaN when the
       model or a speed or geography the call used has no price;
    4. the per-token rates and the server-tool fees (NaN: unknown);
    5. NULL for unknown, and the costs.
    """
    internal_1 = ("_price_latest", "_price_index")
    gathered = tuple(f"_price_{name}" for name in _GATHERED)
    layer1 = _layer(
        ["transform(_price_key, "
         f"_price_all.{_POSITION['latest_keys']}, _price_all.{_POSITION['latest_index']}, "
         "toUInt32(0)) AS _price_latest",
         f"{_version_index()} AS _price_index"],
        base,
        with_=(f"WITH cityHash64({normalized_model_sql('model')}) AS _price_key,\n"
               "     toDate(timestamp) AS _price_day\n"))
    layer2 = _layer(
        [f"{_at('family', '_price_latest')} AS price_model"]
        + [f"{_at(name)} AS _price_{name}" for name in _GATHERED],
        layer1)
    # No if/multiIf/and/or around the looked-up values: ClickHouse evaluates the
    # branches of those lazily, and a lazily evaluated lookup copies its constant array
    # into every row. Selections are arithmetic instead, exact because every selector
    # is 0 or 1 (x * 1 = x, x * 0 + y = y); x / 0 = nan marks "no price".
    def chosen(ok: str, value: str) -> str:
        """``value`` where ``ok``, 1 where the standard mode, else nan."""
        return f"(({ok}.std + {ok}.ok * {value}) / ({ok}.std + {ok}.ok))"

    multiplier = (
        "((_price_index > 0) / (_price_index > 0))"
        " * (is_batch * _price_batch + (1 - is_batch))"
        " * ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0) * _price_fast)"
        " / ((speed IN ('', 'standard')) + (speed = 'fast' AND _price_fast > 0))"
        " * ((inference_geo IN ('', 'global'))"
        " + (inference_geo = 'us' AND _price_geo_us > 0) * _price_geo_us)"
        " / ((inference_geo IN ('', 'global')) + (inference_geo = 'us' AND _price_geo_us > 0))")
    del chosen
    upper = (f"(_price_tier_above > 0) * ({_TOTAL_INPUT} > _price_tier_above)"
             " * ((_price_tier_beta = '') + has(betas, _price_tier_beta) > 0)")
    layer3 = _layer([f"{upper} AS _price_upper", f"{multiplier} AS _price_multiplier"],
                    layer2)
    layer4 = _layer(
        [f"(_price_upper * _price_tier_{b}_usd + (1 - _price_upper) * _price_{b}_usd)"
         f" * _price_multiplier AS _price_rate_{b}" for b in BUCKETS]
        + ["(web_search_requests * _price_web_search + web_fetch_requests * _price_web_fetch)"
           " * (_price_multiplier / _price_multiplier) AS _price_fees"],
        layer3, drop=(*internal_1, *gathered))
    # nan -> NULL without a lazily evaluated branch: x + NULL is NULL, x + 0 is x.
    rates = [f"_price_rate_{b} + nullIf(isNaN(_price_rate_{b}), 1) AS {name}"
             for b, name in _RATE_NAMES.items()]
    costs = [
        "input_tokens * rate_input_usd AS cost_input_usd",
        "cache_read_tokens * rate_cache_read_usd AS cost_cache_read_usd",
        "cache_write_5m_tokens * rate_cache_write_5m_usd AS cost_cache_write_5m_usd",
        "cache_write_1h_tokens * rate_cache_write_1h_usd AS cost_cache_write_1h_usd",
        "output_tokens * rate_output_usd AS cost_output_usd",
        "_price_fees + nullIf(isNaN(_price_fees), 1) AS cost_server_tools_usd",
        "cost_input_usd + cost_cache_read_usd + cost_cache_write_5m_usd"
        " + cost_cache_write_1h_usd + cost_output_usd + cost_server_tools_usd AS cost_usd",
        f"{_TOTAL_INPUT} * rate_input_usd + cost_output_usd + cost_server_tools_usd"
        " AS cost_uncached_usd",
    ]
    internal_4 = ("_price_upper", "_price_multiplier", "_price_fees",
                  *(f"_price_rate_{b}" for b in BUCKETS))
    # Built from constants only; ``base`` is tokentrail's own SQL.
    return "\n" + _layer(rates + costs, layer4, drop=internal_4,
                         with_=f"WITH {_arrays()} AS _price_all\n")


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
