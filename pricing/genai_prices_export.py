"""Writes pricing/genai_prices.json from the genai-prices wheel.

genai-prices (https://github.com/pydantic/genai-prices, MIT) ships its data
as Python (genai_prices/data.py). This script imports that module from an
unpacked wheel and writes the per-token rates spendguard compares, one model
per line, in a shape of spendguard's own (see pricing/README.md):

    pip download --no-deps genai-prices==0.2.3 -d /tmp/genai
    unzip -o -q /tmp/genai/genai_prices-0.2.3-py3-none-any.whl -d /tmp/genai/wheel
    python3 pricing/genai_prices_export.py /tmp/genai/wheel 2026-12-01 > pricing/genai_prices.json

The second argument is the retrieval date: prices are taken as genai-prices
would apply them on that day.
"""

import datetime
import json
import sys
import types
from decimal import ROUND_CEILING, Decimal

# The package's __init__ imports its HTTP updater; only the data is needed.
sys.modules.setdefault("httpx2", types.ModuleType("httpx2"))
sys.path.insert(0, sys.argv[1])

from genai_prices import data  # noqa: E402
from genai_prices.types import (  # noqa: E402
    ClauseEquals,
    ClauseOr,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

RETRIEVED = datetime.date.fromisoformat(sys.argv[2])
VERSION = "0.2.3"

# genai-prices' per-million keys that spendguard has a bucket for.
KEYS = [
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "output_reasoning_mtok",
    "input_audio_mtok",
    "output_audio_mtok",
]

# genai-prices providers spendguard pairs with LiteLLM's entries (the
# PROVIDERS table of src/prices/cross_check/compare.rs; a test keeps the two
# in step). Others have nothing to compare against.
PROVIDERS = {
    "anthropic", "openai", "google", "x-ai", "deepseek", "mistral", "groq",
    "together", "fireworks", "openrouter", "aws", "azure", "cohere",
    "moonshotai", "zai", "minimax", "cerebras", "perplexity", "novita",
    "databricks", "cloudflare", "baseten", "ovhcloud", "voyageai",
    "github-copilot",
}

# Price variants spendguard bills at a service tier of its own.
TIERS = {
    ("processing", "batch"): "batch",
    ("service_tier", "flex"): "flex",
    ("service_tier", "priority"): "priority",
}


def number(value):
    """A rate as a JSON number. A few are float noise (0.18000000000000002):
    read at 12 significant digits, then rounded up to the femto-dollar per
    token (nine places per million), never in the customer's favour."""
    value = Decimal(value)
    assert value >= 0, value
    if -value.normalize().as_tuple().exponent > 9:
        value = Decimal(format(value, ".12g")).quantize(Decimal("1e-9"), rounding=ROUND_CEILING)
    return json.loads(str(value.normalize()) if value != 0 else "0")


def rates(price):
    out = {}
    for key in KEYS:
        value = getattr(price, key, None)
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            out[key] = {
                "base": number(value.base),
                "above": [[tier.start, number(tier.price)] for tier in value.tiers],
            }
        else:
            out[key] = number(value)
    return out


def date_active(constraint):
    if constraint is None:
        return True
    if isinstance(constraint, StartDateConstraint):
        return constraint.start_date <= RETRIEVED
    return False


def standard(model):
    """The price active on the retrieval date outside any time-of-day window."""
    if isinstance(model.prices, ModelPrice):
        return model.prices
    chosen = model.prices[0].prices
    for conditional in model.prices:
        if date_active(conditional.constraint):
            chosen = conditional.prices
    return chosen


def windows(model):
    if isinstance(model.prices, ModelPrice):
        return []
    found = []
    for conditional in model.prices:
        if isinstance(conditional.constraint, TimeOfDateConstraint):
            found.append(
                {
                    "from": conditional.constraint.start_time.strftime("%H:%M"),
                    "to": conditional.constraint.end_time.strftime("%H:%M"),
                    "rates": rates(conditional.prices),
                }
            )
    return found


def tiers(model, base):
    out = {}
    for variant in model.price_variants or []:
        if not date_active(variant.constraint):
            continue
        for item in variant.when.items():
            tier = TIERS.get(item)
            if tier is None or len(variant.when) != 1:
                continue
            merged = dict(base)
            merged.update(rates(variant.prices))
            out[tier] = merged
    return out


def names(model):
    found = [model.id]

    def walk(clause):
        if isinstance(clause, ClauseEquals) and clause.equals not in found:
            found.append(clause.equals)
        elif isinstance(clause, ClauseOr):
            for inner in clause.or_:
                walk(inner)

    walk(model.match)
    return found


def main():
    lines = []
    for provider in data.providers:
        if provider.id not in PROVIDERS:
            continue
        for model in provider.models:
            base = rates(standard(model))
            if "input_mtok" not in base and "output_mtok" not in base:
                continue
            entry = {"provider": provider.id, "id": model.id, "names": names(model), "rates": base}
            extra = tiers(model, base)
            if extra:
                entry["tiers"] = extra
            found = windows(model)
            if found:
                entry["time_of_day"] = found
            lines.append(json.dumps(entry, separators=(", ", ": ")))
    about = {
        "source": "genai-prices",
        "version": VERSION,
        "retrieved": RETRIEVED.isoformat(),
        "license": "MIT, https://github.com/pydantic/genai-prices",
        "unit": "dollars per million tokens",
    }
    print("{")
    print('  "about": ' + json.dumps(about, separators=(", ", ": ")) + ",")
    print('  "models": [')
    print(",\n".join("    " + line for line in lines))
    print("  ]")
    print("}")


main()
