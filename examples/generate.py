#!/usr/bin/env python3
"""Writes the example suite's shard results (examples/shards/*.xml) that `dtf demo` merges.

Deterministic: run it again and the files do not change. The suite imitates pytest's
JUnit output (xunit2 family) for a small web shop, split over three shards, plus a
rerun job that retried the failures of shard 2.
"""
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

random.seed(20261125)
MODULES = {
    "tests.test_cart": ["add_item", "remove_item", "update_quantity", "empty_cart", "merge_guest_cart",
                        "max_quantity_limit", "currency_rounding", "discount_stacking", "bundle_pricing",
                        "tax_inclusive_totals"],
    "tests.test_checkout": ["happy_path", "card_declined", "3ds_challenge", "address_validation",
                            "shipping_options", "gift_wrap", "split_payment", "idempotent_submit",
                            "timeout_recovery", "order_confirmation_email"],
    "tests.test_catalog": ["search_by_name", "search_typo_tolerance", "filter_by_price", "filter_by_brand",
                           "sort_by_rating", "pagination", "out_of_stock_hidden", "variant_selection"],
    "tests.test_accounts": ["signup", "login", "login_rate_limit", "password_reset", "two_factor",
                            "delete_account", "export_data", "session_expiry"],
    "tests.test_inventory": ["reserve_stock", "release_on_cancel", "concurrent_reservations",
                             "restock_webhook", "low_stock_alert", "warehouse_transfer"],
    "tests.integration.test_payments_api": ["charge", "refund", "partial_refund", "webhook_signature",
                                            "retry_on_502", "currency_conversion"],
    "tests.integration.test_search_index": ["reindex", "incremental_update", "synonyms", "facets"],
}
FAIL = {
    "tests.test_checkout::test_card_declined": ("AssertionError: assert 'declined' == 'card_declined'",
        'tests/test_checkout.py', 57, "AssertionError"),
    "tests.test_inventory::test_concurrent_reservations": ("AssertionError: reserved 11 units but only 10 in stock",
        'tests/test_inventory.py', 88, "AssertionError"),
}
ERROR = {
    "tests.integration.test_search_index::test_reindex": ("ConnectionRefusedError: [Errno 111] Connection refused: 'localhost:9200'",
        'tests/integration/test_search_index.py', 14, "ConnectionRefusedError"),
}
FLAKY = {  # fail on the first run, pass on the rerun
    "tests.test_checkout::test_timeout_recovery": ("TimeoutError: checkout did not finish within 5.0s",
        'tests/test_checkout.py', 131, "TimeoutError"),
    "tests.integration.test_payments_api::test_retry_on_502": ("requests.exceptions.HTTPError: 502 Server Error: Bad Gateway",
        'tests/integration/test_payments_api.py', 66, "HTTPError"),
}
SKIP = {
    "tests.test_accounts::test_two_factor": "SMS gateway sandbox not configured",
    "tests.test_catalog::test_search_typo_tolerance": "needs the search cluster (run with --search)",
    "tests.test_inventory::test_warehouse_transfer": "xfail: transfers land in the next release",
}

def case_xml(classname, name, time, kind=None, info=None, stdout=None):
    module_file = classname.replace(".", "/") + ".py"
    attrs = f'classname={quoteattr(classname)} name={quoteattr(name)} time="{time:.3f}"'
    if kind is None:
        body = ""
    elif kind == "skipped":
        body = f'<skipped type="pytest.skip" message={quoteattr(info)}>{escape(module_file)}:1: {escape(info)}</skipped>'
    else:
        message, path, line, etype = info
        trace = (f"def test_{name[5:]}(client):\n        response = client.post(\"/api\", json=payload)\n"
                 f">       {message.split(':')[0]}\nE       {message}\n\n{path}:{line}: {etype}")
        tag = "failure" if kind == "failure" else "error"
        body = f'<{tag} message={quoteattr(message)}>{escape(trace)}</{tag}>'
    if stdout:
        body += f"<system-out>{escape(stdout)}</system-out>"
    if body:
        return f"    <testcase {attrs}>{body}</testcase>\n"
    return f"    <testcase {attrs} />\n"

tests = [(m, "test_" + n) for m, names in MODULES.items() for n in names]
durations = {t: round(random.lognormvariate(-1.0, 1.1), 3) for t in tests}
# the timing strategy would balance these; round-robin is enough for the example
shards = [tests[i::3] for i in range(3)]
out = Path(__file__).parent / "shards"
out.mkdir(exist_ok=True)
hosts = ["runner-linux-1", "runner-linux-2", "runner-linux-3"]
rerun = []
for i, shard in enumerate(shards):
    cases, counts = [], {"failure": 0, "error": 0, "skipped": 0}
    for (m, n) in shard:
        tid = f"{m}::{n}"
        t = durations[(m, n)]
        if tid in FAIL:
            cases.append(case_xml(m, n, t, "failure", FAIL[tid])); counts["failure"] += 1; rerun.append((m, n))
        elif tid in ERROR:
            cases.append(case_xml(m, n, t, "error", ERROR[tid])); counts["error"] += 1
        elif tid in FLAKY:
            cases.append(case_xml(m, n, t, "failure", FLAKY[tid])); counts["failure"] += 1; rerun.append((m, n))
        elif tid in SKIP:
            cases.append(case_xml(m, n, 0.0, "skipped", SKIP[tid])); counts["skipped"] += 1
        else:
            log = "INFO  seeded 3 products\nINFO  GET /api/cart 200 (12ms)" if random.random() < 0.15 else None
            cases.append(case_xml(m, n, t, stdout=log))
    total = sum(durations[x] for x in shard)
    (out / f"shard-{i+1}.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
        f'  <testsuite name="pytest" errors="{counts["error"]}" failures="{counts["failure"]}" skipped="{counts["skipped"]}" '
        f'tests="{len(shard)}" time="{total:.3f}" timestamp="2026-11-25T08:1{i}:00.000000" hostname="{hosts[i]}">\n'
        + "".join(cases) + "  </testsuite>\n</testsuites>\n")
cases = []
for (m, n) in rerun:
    tid = f"{m}::{n}"
    t = durations[(m, n)]
    if tid in FAIL:
        cases.append(case_xml(m, n, t, "failure", FAIL[tid]))
    else:
        cases.append(case_xml(m, n, t * 1.1))
fails = sum(1 for (m, n) in rerun if f"{m}::{n}" in FAIL)
(out / "rerun-1.xml").write_text(
    '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
    f'  <testsuite name="pytest" errors="0" failures="{fails}" skipped="0" tests="{len(rerun)}" time="1.000" '
    'timestamp="2026-11-25T08:20:00.000000" hostname="runner-linux-1">\n' + "".join(cases) + "  </testsuite>\n</testsuites>\n")
print(f"{len(tests)} tests in 3 shards, {len(rerun)} rerun")
